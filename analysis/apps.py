from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = _("Analysis")

    def ready(self) -> None:
        # Every analysis that runs as a job registers its runner with the one job mechanism
        # (analysis.jobs imports none of them), in every process: web, worker and tests.
        from analysis import blinding, planner, services

        services.register_runner()
        blinding.register_runner()
        planner.register_runner()
