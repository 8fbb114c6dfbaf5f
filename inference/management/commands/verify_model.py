"""Verify a registered model: hash every file again and store the result."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from inference.models import ModelVersion
from inference.registry import model_verify


class Command(BaseCommand):
    help = "Hash every file of the registered model NAME VERSION again (exit 1 if one differs)."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        # Our --version (the model's) replaces Django's --version (the program's).
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--version", required=True)

    def handle(self, *args: Any, name: str, version: str, **options: Any) -> None:
        model = ModelVersion.objects.filter(name=name, version=version).first()
        if model is None:
            raise CommandError(f"no registered model {name} {version}")
        verification = model_verify(actor=None, model_version=model)
        if not verification.ok:
            raise CommandError(
                f"{name} {version} FAILED verification (it cannot run): "
                + "; ".join(verification.problems)
            )
        self.stdout.write(
            self.style.SUCCESS(f"{name} {version}: all {verification.checked} files match")
        )
