"""Register the shipped demo NCLS models (trained on phantom data) in the model registry."""

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from inference.demo import DEMO_MODEL_DIR, DEMO_MODEL_NAME, DEMO_MODEL_VERSION
from inference.models import DEMO_NOTICE
from inference.registry import model_register


class Command(BaseCommand):
    help = "Register the shipped lite demo models (phantom-trained; not for clinical use)."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        # Our --version (the model's) replaces Django's --version (the program's).
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--directory", type=Path, default=DEMO_MODEL_DIR)
        parser.add_argument("--version", default=DEMO_MODEL_VERSION)

    def handle(self, *args: Any, directory: Path, version: str, **options: Any) -> None:
        if not directory.is_dir():
            raise CommandError(
                f"no demo models at {directory}; "
                "train them with `python -m inference.ncls train-demo`"
            )
        try:
            # The only command that sets the demo flag (register_model never does).
            model = model_register(
                actor=None,
                name=DEMO_MODEL_NAME,
                version=version,
                directory=directory,
                is_demo=True,
                exist_ok=True,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"registered {model.name} {model.version} ({model.profile}) — {DEMO_NOTICE}"
            )
        )
