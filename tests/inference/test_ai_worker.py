"""AI material built by a real Celery worker that is killed midway (PostgreSQL + Redis)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.models import AICaseResult, ResultStatus
from inference.runs import ai_run_start
from inference.services import model_version_register
from tests.inference.worker_kill import kill_midway
from tests.media_factories import make_mp4, make_sweep_frames
from trials import services as trial_services
from trials.models import AssetKind, MaterialSet, MaterialStatus

CASES = 20


@pytest.fixture
def worker_with_fake_pipeline(request, monkeypatch):
    """The worker runs the stand-in pipeline (the real one is tested on its own)."""
    monkeypatch.setenv("FONTANELLE_PIPELINE_RUNNER", "tests.inference.fake_pipeline.run")
    return request.getfixturevalue("celery_worker_process")


@pytest.mark.celery_worker
@pytest.mark.xdist_group("celery-worker")  # one real worker at a time
@pytest.mark.django_db(transaction=True)
def test_twenty_cases_end_with_twenty_complete_ai_material_sets(
    worker_with_fake_pipeline, django_user_model, tmp_path: Path
):
    worker = worker_with_fake_pipeline
    coordinator = django_user_model.objects.create_user("coord", password="x-long-password-1")
    study = trial_services.study_create(
        actor=coordinator, title="AI on a worker", design="standalone"
    )
    dataset = trial_services.dataset_create(
        actor=coordinator, study=study, name="Internal", kind="internal"
    )
    video = make_mp4(tmp_path / "sweep.mp4", make_sweep_frames(6, 320, 256))
    for index in range(CASES):
        case = trial_services.case_create(
            actor=coordinator, dataset=dataset, code=f"W{index:02d}", conditions=["normal"]
        )
        trial_services.asset_ingest(
            actor=coordinator,
            case=case,
            path=video,
            kind=AssetKind.SWEEP_VIDEO,
            orientation="coronal",
        )
    model_dir = tmp_path / "models"
    model_dir.mkdir()
    (model_dir / "fold0.safetensors").write_bytes(b"weights")
    model = model_version_register(
        actor=None, name="ncls", version="1", profile="lite", directory=model_dir, is_demo=True
    )
    ai_run_start(actor=coordinator, study=study, dataset=dataset, model_version=model)

    def complete() -> int:
        return AICaseResult.objects.filter(
            model_version=model, status=ResultStatus.COMPLETE
        ).count()

    kill_midway(worker, complete, CASES, timeout_s=120)
    assert complete() == CASES, worker.log()
    assert (
        "Task inference.tasks.build_ai_material[" in worker.log()
    )  # the worker did it, not this process
    sets = MaterialSet.objects.filter(case__study=study, source="ai")
    assert sets.count() == CASES
    assert not sets.exclude(status=MaterialStatus.COMPLETE).exists()
    for material in sets:
        assert material.renditions.filter(status="ready").count() == 2
    assert (
        not AICaseResult.objects.filter(model_version=model)
        .exclude(status=ResultStatus.COMPLETE)
        .exists()
    )
