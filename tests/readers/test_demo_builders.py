"""The readers' demo builders take the AI's material from their caller (readers never imports
inference); with the phantom-truth stand-in, a small practice study opens with AI material."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from inference import demo as inference_demo
from inference.models import AICaseResult, ResultStatus
from readers import demo
from trials.models import DatasetKind, MaterialSource, StudyStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def phantom_internal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two small phantom cases (30 frames) as the demo's internal dataset."""
    out = tmp_path_factory.mktemp("demo-data") / DatasetKind.INTERNAL
    subprocess.run(
        [
            sys.executable,
            "-m",
            "inference.phantom",
            "generate",
            *("--cases", "2", "--out", str(out), "--seed", "3"),
            *("--frames-min", "30", "--frames-max", "32", "--width", "256", "--height", "192"),
            *("--dataset", "Internal test", "--dataset-kind", "internal", "--site", "A"),
            "--quiet",
        ],
        check=True,
    )
    return out / "manifest.csv"


def test_practice_study_gets_the_callers_ai_material(
    phantom_internal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "generate_phantom_cases", lambda data_dir: [phantom_internal])
    calls: list[dict[str, Any]] = []

    def ai_material(*, study: Any, phantom_dirs: dict[str, Path]) -> None:
        calls.append({"study": study.pk, "phantom_dirs": phantom_dirs})
        inference_demo.standin_ai_material(study=study, phantom_dirs=phantom_dirs)

    study = demo.build_practice_study(ai_material=ai_material, data_dir=phantom_internal.parent)

    assert study.status == StudyStatus.OPEN and study.is_demo
    assert calls == [{"study": study.pk, "phantom_dirs": {"internal": phantom_internal.parent}}]
    results = AICaseResult.objects.filter(case__study=study).select_related("case")
    assert results.count() == study.cases.count() == 2
    for result in results:
        assert result.status == ResultStatus.COMPLETE
        assert result.model_version.name == inference_demo.STANDIN_NAME
        assert result.material_set is not None
        assert result.material_set.source == MaterialSource.AI
        truth = json.loads(
            (phantom_internal.parent / "truth" / f"{result.case.code}.json").read_text()
        )
        # Each picked frame lies in the range the phantom says shows that view.
        for sweep in truth["videos"].values():
            for view, ideal in sweep["ideal_frames"].items():
                low, high = sweep["expected_ranges"].get(view, [ideal, ideal])
                assert low <= result.views[view]["frame_index"] <= high, view
    # Built once: a second call returns the open study and makes no more AI material.
    again = demo.build_practice_study(ai_material=ai_material, data_dir=phantom_internal.parent)
    assert again.pk == study.pk and len(calls) == 1
