"""The shipped demo models in the demo: registered from the repository, run on demo cases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from inference.models import ModelVersion, ResultStatus
from inference.services import ai_case_build
from trials.models import Study

DEMO_MODEL_DIR = Path(settings.BASE_DIR) / "inference" / "ncls" / "demo_models"
DEMO_MODEL_NAME = "ncls-lite-demo"
#: The registry version of the shipped demo models; bumped whenever their weights change.
DEMO_MODEL_VERSION = "demo-4"


def demo_model_version() -> ModelVersion | None:
    """The shipped lite demo models (phantom-trained), registered once; None if not shipped."""
    has_detector = any(DEMO_MODEL_DIR.glob("detect*/*.safetensors"))
    has_diagnosis = any(DEMO_MODEL_DIR.glob("diagnosis*/*.safetensors"))
    if not (has_detector and has_diagnosis):
        return None
    from inference.registry import model_register

    return model_register(
        actor=None,
        name=DEMO_MODEL_NAME,
        version=DEMO_MODEL_VERSION,
        directory=DEMO_MODEL_DIR,
        is_demo=True,
        exist_ok=True,
    )


def run_ai_on_study(
    *, study: Study, model_version: ModelVersion, progress: Callable[[str], None] = print
) -> tuple[int, int]:
    """Build the AI material of every included case (synchronously); return (complete, failed)."""
    cases = list(study.cases.filter(excluded=False).order_by("code"))
    complete = failed = 0
    for index, case in enumerate(cases, start=1):
        result = ai_case_build(case_id=case.pk, model_version_id=model_version.pk)
        if result.status == ResultStatus.COMPLETE:
            complete += 1
        else:
            failed += 1
            progress(f"    {case.code}: AI failed — {result.error}")
        if index % 10 == 0 or index == len(cases):
            progress(f"    AI material {index}/{len(cases)} ({failed} failed)")
    return complete, failed
