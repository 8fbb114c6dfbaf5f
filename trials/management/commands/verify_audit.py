"""Check the audit trail's hash chains (one per study) and name the first broken row.

On success it prints each chain's newest hash: kept outside the database (a lab notebook,
a signed e-mail), a later run shows whether rows were removed from the end of a chain,
which no hash chain can reveal by itself."""

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
        self.stdout.write(
            self.style.SUCCESS(
                f"audit chains intact: {result.rows} rows in {result.chains} chain(s)"
            )
        )
        for chain, head in sorted((result.heads or {}).items()):
            self.stdout.write(f"  {'study ' + chain if chain else 'no study'}: newest hash {head}")
