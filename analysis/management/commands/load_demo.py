"""Build the demo study and print the demo logins.

The demo is the one place that composes every app (trials, readers, inference, analysis),
so its command lives in the app that may read all of them.
"""

from typing import Any

from django.core.management.base import BaseCommand

from trials.demo import DEMO_PASSWORD, DEMO_USERS, build_demo_study


class Command(BaseCommand):
    help = "Build the demo study from phantom cases (demo users included) and print the logins."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("Building the demo study (phantom cases; demo models, not for clinical use) ...")
        result = build_demo_study()
        self.stdout.write(self.style.SUCCESS(f"Demo study '{result.study.title}': {result.cases} cases."))
        self._fill_reads(result.study)
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
        for username, role, tier in DEMO_USERS:
            self.stdout.write(f"  {username:<14} {role}{' (' + tier + ')' if tier else ''}")
        self.stdout.write("\nOpen http://127.0.0.1:8000 and log in.\n")

    def _fill_reads(self, study: Any) -> None:
        """Simulated reads for every analysis report; skipped while the readers app is not ready."""
        try:
            from analysis.demo import fill_demo_reads
        except ImportError as exc:
            self.stdout.write(f"Skipping simulated reads (readers app not ready: {exc}).")
            return
        from django.db import DatabaseError

        try:
            filled = fill_demo_reads(study)
        except DatabaseError as exc:
            self.stdout.write(f"Skipping simulated reads (database not ready: {exc}).")
            return
        if filled.skipped:
            self.stdout.write(f"Simulated reads: skipped ({filled.skipped}).")
        else:
            self.stdout.write(self.style.SUCCESS(
                f"Simulated reads: {filled.reads} reads, {filled.blinded_reviews} blinded reviews, "
                f"{filled.qualitative_reads} qualitative assessments; the study is unblinded."
            ))

