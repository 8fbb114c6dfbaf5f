from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReadersConfig(AppConfig):
    name = "readers"
    verbose_name = _("Readers")

    def ready(self) -> None:
        # The source trial's and the qualitative design's phases register their rules.
        from readers import source_trial

        source_trial.register()
