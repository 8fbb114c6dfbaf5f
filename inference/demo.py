"""The AI in the demo: the shipped demo models, or a stand-in that reads the phantom's truth.

Only the demo builders reach this module (an import-linter contract in pyproject.toml
says who may import it). The stand-in is no pipeline runner: it never goes through
``FONTANELLE_PIPELINE_RUNNER`` (whose resolver refuses demo code), it stores its output
directly, under a model version of its own marked as a demo.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from core.labels import View
from core.video import read_frames
from inference.models import AICaseResult, ModelVersion, ResultStatus
from inference.services import CaseAIOutput, ai_case_build, ai_output_store, case_videos
from trials.models import Case, Study

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


STANDIN_NAME = "ncls-standin-demo"
#: Seed of the stand-in's frame jitter and probabilities (one stream over a study's cases).
STANDIN_SEED = 2026


def demo_ai_material(*, study: Study, phantom_dirs: dict[str, Path]) -> None:
    """The AI's material of a demo study: the shipped demo models, else the stand-in.

    ``phantom_dirs`` maps a dataset kind to the phantom directory its cases came from
    (``truth/<code>.json`` inside), which only the stand-in reads.
    """
    shipped = demo_model_version()
    if shipped is not None:
        run_ai_on_study(study=study, model_version=shipped)
        return
    standin_ai_material(study=study, phantom_dirs=phantom_dirs)


def standin_ai_material(*, study: Study, phantom_dirs: dict[str, Path]) -> int:
    """Stand-in AI material from the phantom's truth; return how many cases got some.

    Each view's frame is drawn near the phantom's ideal frame and the severe probability
    from the label: a demo of the platform where no model ships, never a result.
    Idempotent per case, like :func:`inference.services.ai_case_build`.
    """
    model, _created = ModelVersion.objects.get_or_create(
        name=STANDIN_NAME,
        version="1",
        defaults={
            "profile": "simulated",
            "directory": "",
            "files": [],
            "is_demo": True,
            "metrics": {
                "note": "phantom-truth stand-in for NCLS stage 1; demo, not for clinical use"
            },
        },
    )
    rng = random.Random(STANDIN_SEED)
    stored = 0
    cases = study.cases.filter(excluded=False).select_related("dataset").order_by("code")
    for case in cases:
        truth = json.loads(
            (phantom_dirs[case.dataset.kind] / "truth" / f"{case.code}.json").read_text()
        )
        if _standin_case(case=case, model=model, truth=truth, rng=rng):
            stored += 1
    return stored


def _standin_case(
    *, case: Case, model: ModelVersion, truth: dict[str, Any], rng: random.Random
) -> bool:
    done = AICaseResult.objects.filter(
        case=case, model_version=model, status=ResultStatus.COMPLETE
    ).exists()
    if done:
        return False
    with case_videos(case) as videos:
        output = standin_output(truth=truth, videos=videos, rng=rng)
    ai_output_store(case=case, model_version=model, output=output)
    return True


def standin_output(
    *, truth: dict[str, Any], videos: dict[str, Path], rng: random.Random
) -> CaseAIOutput:
    """One phantom case's stand-in output: a frame near each ideal frame, a probability."""
    picked: dict[str, tuple[Any, int] | None] = {}
    for orientation, path in videos.items():
        sweep = truth["videos"][orientation]
        wanted: dict[str, int] = {}
        for view, ideal in sweep["ideal_frames"].items():
            low, high = sweep["expected_ranges"].get(view, [ideal, ideal])
            wanted[view] = min(max(ideal + rng.randint(-2, 2), low), high, sweep["n_frames"] - 1)
        frames = read_frames(path, set(wanted.values()))
        picked.update({view: (frames[index], index) for view, index in wanted.items()})
    views = {view.value: picked.get(view.value) for view in View}
    probability = min(max(rng.gauss(0.75 if truth["severe"] else 0.2, 0.15), 0.01), 0.99)
    return CaseAIOutput(
        views=views,
        missing_reasons={v: "not found" for v, p in views.items() if p is None},
        severe_probability=probability,
        severe=probability >= 0.5,
        rule="stand-in",
        image_labels={},
    )
