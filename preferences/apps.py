from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PreferencesConfig(AppConfig):
    name = "preferences"
    verbose_name = _("Preferences")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from preferences import receivers  # noqa: F401  (connects the login receiver)
