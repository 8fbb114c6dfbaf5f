from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrialsConfig(AppConfig):
    name = "trials"
    verbose_name = _("Trials")

    def ready(self) -> None:
        # The project's deployment checks (config is not an app, so they register here).
        import config.checks  # noqa: F401
