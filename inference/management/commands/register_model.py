"""Register a model directory of any profile (published import, lite, full) for real use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from inference.registry import model_register


class Command(BaseCommand):
    help = (
        "Register MODEL_DIR (written by `python -m inference.ncls import-published`, "
        "train-detector / train-diagnosis) as NAME VERSION: every file's SHA-256 is computed "
        "and compared with the directory's JSON records; profile, provenance and metrics are "
        "read from them. The model is never marked as a demo model."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        # Our --version (the model's) replaces Django's --version (the program's).
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("model_dir", type=Path, metavar="MODEL_DIR")
        parser.add_argument("--name", required=True, help="registry name, e.g. ncls-published")
        parser.add_argument("--version", required=True, help="registry version, e.g. 2025-06")

    def handle(self, *args: Any, model_dir: Path, name: str, version: str, **options: Any) -> None:
        try:
            model = model_register(actor=None, directory=model_dir, name=name, version=version)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"registered {model.name} {model.version}: profile {model.profile}, "
                f"provenance {model.get_provenance_display()}, {len(model.files)} files"
            )
        )
        for command in (model.provenance_detail.get("commands") or {}).values():
            self.stdout.write(f"  trained by: {command}")
        if model.provenance_detail.get("command"):
            self.stdout.write(f"  imported by: {model.provenance_detail['command']}")
        for entry in model.files:
            self.stdout.write(f"  {entry['sha256']}  {entry['path']}")
