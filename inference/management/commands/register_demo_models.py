"""Register the shipped demo NCLS models (trained on phantom data) in the model registry."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from inference.demo import DEMO_MODEL_DIR, DEMO_MODEL_NAME, DEMO_MODEL_VERSION
from inference.services import DEMO_NOTICE, model_version_register


class Command(BaseCommand):
    help = "Register the shipped lite demo models (phantom-trained; not for clinical use)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--directory", type=Path, default=DEMO_MODEL_DIR)
        parser.add_argument("--version", default=DEMO_MODEL_VERSION)

    def handle(self, *args: Any, directory: Path, version: str, **options: Any) -> None:
        if not directory.is_dir():
            raise CommandError(f"no demo models at {directory}; train them with `python -m inference.ncls train-demo`")
        model = model_version_register(
            actor=None, name=DEMO_MODEL_NAME, version=version, profile="lite", directory=directory, is_demo=True
        )
        self.stdout.write(self.style.SUCCESS(f"registered {model} — {DEMO_NOTICE}"))
