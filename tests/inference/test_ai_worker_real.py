"""Twenty phantom cases through the REAL NCLS pipeline (shipped lite demo models) on a
real Celery worker that is killed midway (PostgreSQL + Redis).

The stand-in-pipeline test (test_ai_worker.py) shows the task's bookkeeping under a kill
in seconds; this one shows the same with the models the demo runs: every case ends with
a complete AI MaterialSet made of the views stage 1 chose, and nothing twice.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from inference.demo import DEMO_MODEL_DIR
from inference.models import AICaseResult, ResultStatus
from inference.runs import ai_run_start
from inference.services import model_version_register
from tests.inference.worker_kill import kill_midway
from trials import services as trial_services
from trials.models import AssetKind, MaterialSet, MaterialStatus

CASES = 20


@pytest.fixture
def worker_with_real_pipeline(request, monkeypatch):
    """The worker runs the configured (real) pipeline runner."""
    monkeypatch.delenv("FONTANELLE_PIPELINE_RUNNER", raising=False)
    return request.getfixturevalue("celery_worker_process")


@pytest.mark.celery_worker
@pytest.mark.xdist_group("celery-worker")  # one real worker at a time
@pytest.mark.django_db(transaction=True)
def test_twenty_phantom_cases_with_the_real_pipeline_survive_a_killed_worker(
    worker_with_real_pipeline, django_user_model, tmp_path: Path
):
    from inference.phantom.cli import main as phantom_main

    worker = worker_with_real_pipeline
    data = tmp_path / "phantom"
    assert (
        phantom_main(
            [
                "generate",
                "--cases",
                str(CASES),
                "--out",
                str(data),
                "--seed",
                "606",
                "--frames-min",
                "50",
                "--frames-max",
                "60",
                "--width",
                "320",
                "--height",
                "240",
                "--dota-every",
                "0",
                "--quiet",
            ]
        )
        == 0
    )
    with (data / "manifest.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    coordinator = django_user_model.objects.create_user("coord", password="x-long-password-1")
    study = trial_services.study_create(
        actor=coordinator, title="Real NCLS on a worker", design="standalone"
    )
    dataset = trial_services.dataset_create(
        actor=coordinator, study=study, name="Internal", kind="internal"
    )
    for row in rows:
        case = trial_services.case_create(
            actor=coordinator,
            dataset=dataset,
            code=row["code"],
            conditions=row["conditions"].split(";"),
            ivh_grade=int(row["ivh_grade"]) if row["ivh_grade"] else None,
        )
        for orientation in ("coronal", "sagittal"):
            trial_services.asset_ingest(
                actor=coordinator,
                case=case,
                path=data / row[f"video_{orientation}"],
                kind=AssetKind.SWEEP_VIDEO,
                orientation=orientation,
            )
    model = model_version_register(
        actor=None,
        name="ncls-demo",
        version="worker-test",
        profile="lite",
        directory=DEMO_MODEL_DIR,
        is_demo=True,
    )
    ai_run_start(actor=coordinator, study=study, dataset=dataset, model_version=model)

    def done() -> int:
        return AICaseResult.objects.filter(model_version=model).count()  # complete or failed

    kill_midway(worker, done, CASES, timeout_s=900)
    results = AICaseResult.objects.filter(model_version=model)
    failures = list(results.filter(status=ResultStatus.FAILED).values_list("case__code", "error"))
    assert not failures, failures
    assert results.filter(status=ResultStatus.COMPLETE).count() == CASES, worker.log()
    sets = MaterialSet.objects.filter(case__study=study, source="ai")
    assert sets.count() == CASES and not sets.exclude(status=MaterialStatus.COMPLETE).exists()
    for material in sets:
        # the views stage 1 found (a found view is a ready rendition; nothing invented)
        assert material.renditions.filter(status="ready").count() >= 2
    for result in results:
        assert result.severe_probability is not None
        assert 0.0 <= result.severe_probability <= 1.0
