"""Check the audit trail's hash chain and name the first broken row."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from trials.audit import audit_verify


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; exit non-zero naming the first broken row."

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit_verify()
        if not result.ok:
            raise CommandError(
                f"audit chain broken at row {result.first_broken}: {result.problem} "
                f"({result.rows} rows read)"
            )
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {result.rows} rows"))
