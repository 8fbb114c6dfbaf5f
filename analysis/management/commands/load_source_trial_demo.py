"""Build the demo blinded source trial (phantom cases) and print its blinding audit."""

from typing import Any

from django.core.management.base import BaseCommand

from analysis.blinding import blinding_audit_for_study
from inference.demo import demo_ai_material
from readers.demo import build_source_trial_demo


class Command(BaseCommand):
    help = "Build the demo blinded source trial from phantom cases and run its blinding audit."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(
            "Building the demo source trial "
            "(phantom cases; demo AI stand-in, not for clinical use) ..."
        )
        demo = build_source_trial_demo(ai_material=demo_ai_material)
        self.stdout.write(
            self.style.SUCCESS(f"Demo source trial '{demo.study.title}': {demo.cases} cases.")
        )
        audit = blinding_audit_for_study(study=demo.study)
        if audit.result is None:
            self.stdout.write(f"Blinding audit ({audit.materials} materials): {audit.problem}")
            return
        result = audit.result
        line = (
            f"Blinding audit over {audit.materials} materials ({audit.scope}; AI {result.n_ai}, "
            f"junior {result.n_junior}): AUC {result.auc:.3f}, "
            f"95 % CI {result.ci.low:.3f}–{result.ci.high:.3f}"
        )
        self.stdout.write(
            self.style.WARNING(line + f"\n{result.warning}")
            if result.distinguishable
            else self.style.SUCCESS(line + " — not distinguishable.")
        )
        self.stdout.write(
            "Top features: " + ", ".join(f"{n} ({w:.3f})" for n, w in result.top_features[:5])
        )
