from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReadersConfig(AppConfig):
    name = "readers"
    verbose_name = _("Readers")

    def ready(self) -> None:
        # The source trial's and the qualitative design's phases register their rules.
        from readers import source_trial

        source_trial.register()
        # The washout e-mail is scheduled when a crossover reader's washout begins.
        from readers import notifications, phases

        phases.washout_began.connect(
            notifications.washout_notice_schedule, dispatch_uid="readers.washout_notice"
        )
