"""Register the shipped demo NCLS models (trained on phantom data) in the model registry."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inference.services import DEMO_NOTICE, model_version_register

DEMO_MODEL_DIR = Path(settings.BASE_DIR) / "inference" / "ncls" / "demo_models"


class Command(BaseCommand):
    help = "Register the shipped lite demo models (phantom-trained; not for clinical use)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--directory", type=Path, default=DEMO_MODEL_DIR)
        parser.add_argument("--version", default="demo-3")

    def handle(self, *args: Any, directory: Path, version: str, **options: Any) -> None:
        if not directory.is_dir():
            raise CommandError(f"no demo models at {directory}; train them with `python -m inference.ncls train-demo`")
        model = model_version_register(
            actor=None, name="ncls-lite-demo", version=version, profile="lite", directory=directory, is_demo=True
        )
        self.stdout.write(self.style.SUCCESS(f"registered {model} — {DEMO_NOTICE}"))
