"""Renditions made by a real Celery worker (PostgreSQL + Redis; run by .ci/run)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.trials.conftest import manifest_row, write_manifest
from tests.trials.factories import UserFactory
from trials import services
from trials.models import DatasetKind, Rendition, RenditionStatus, StudyDesign

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.xdist_group("celery-worker"),  # one real worker at a time
    pytest.mark.django_db(transaction=True),
]


def _wait_ready(expected: int, worker: Any, timeout: float = 90.0) -> list[Rendition]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        renditions = list(Rendition.objects.all())
        done = [r for r in renditions if r.status != RenditionStatus.PENDING]
        if len(renditions) == expected and len(done) == expected:
            return renditions
        time.sleep(0.3)
    raise AssertionError(
        f"renditions not made in {timeout} s: "
        f"{list(Rendition.objects.values_list('status', flat=True))}\n{worker.log()}"
    )


def test_import_with_videos_gets_renditions_from_the_worker(
    celery_worker_process: Any, media_samples: dict[str, Path], tmp_path: Path
) -> None:
    coordinator = UserFactory(username="coord-worker")
    study = services.study_create(actor=coordinator, title="Worker", design=StudyDesign.STANDALONE)
    folder = tmp_path / "upload"
    folder.mkdir()
    for name in ("mp4", "avi", "dicom_jpeg", "png"):
        (folder / media_samples[name].name).write_bytes(media_samples[name].read_bytes())
    rows = [
        manifest_row(
            f"W-{i}",
            dataset_kind=DatasetKind.INTERNAL,
            video_coronal=media_samples["mp4"].name,
            video_sagittal=media_samples["avi" if i == 0 else "dicom_jpeg"].name,
            view_AHV=media_samples["png"].name,
        )
        for i in range(2)
    ]
    report = services.case_import(
        actor=coordinator, study=study, manifest=write_manifest(folder, rows), dry_run=False
    )
    assert report.ok, report.problems
    assert report.created_assets == 6
    # Queued, not run in this process: the worker makes them.
    renditions = _wait_ready(6, celery_worker_process)
    assert {r.status for r in renditions} == {RenditionStatus.READY}, [r.error for r in renditions]
    videos = [r for r in renditions if r.kind == "video"]
    assert len(videos) == 4 and all(Path(r.file.path).is_file() for r in videos)
    assert "Task trials.tasks.make_asset_rendition[" in celery_worker_process.log()


def test_worker_survives_kill_and_restart(celery_worker_process: Any) -> None:
    children = celery_worker_process.children()
    assert len(children) == 1
    assert celery_worker_process.kill() == children
    celery_worker_process.restart()
    assert len(celery_worker_process.children()) == 1
