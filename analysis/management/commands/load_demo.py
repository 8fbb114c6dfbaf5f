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
        self.stdout.write("\nDemo logins (password for all: %s):" % DEMO_PASSWORD)
        for username, role, tier in DEMO_USERS:
            self.stdout.write(f"  {username:<14} {role}{' (' + tier + ')' if tier else ''}")
        self.stdout.write("\nOpen http://127.0.0.1:8000 and log in.\n")
