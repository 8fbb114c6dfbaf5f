"""The background demo build: its progress record, the pages' panel, reuse and resumption."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from analysis import demo_build
from analysis.demo_build import SPECS, build_all, panel, record_set, records_prepare
from analysis.models import DemoBuild, DemoBuildState
from inference.models import AICaseResult, ModelVersion, ResultStatus
from tests.readers.factories import CaseFactory, DatasetFactory, StudyFactory, UserFactory
from trials.models import DatasetKind, StudyStatus

pytestmark = pytest.mark.django_db

EXPENSIVE = (
    "build_practice_study",
    "build_source_trial_demo",
    "build_demo_study",
    "run_ai_on_study",
    "fill_demo_reads",
    "demo_model_version",
)


def _forbid_building(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    called: list[str] = []
    for name in EXPENSIVE:

        def fake(*args: Any, _name: str = name, **kwargs: Any) -> Any:
            called.append(_name)
            raise AssertionError(f"{_name} must not run for a study built already")

        monkeypatch.setattr(demo_build, name, fake)
    return called


def _spec(key: str):
    return next(spec for spec in SPECS if spec.key == key)


def test_second_run_reuses_every_finished_study(monkeypatch) -> None:
    for spec in SPECS:
        StudyFactory(title=spec.title, is_demo=True, status=spec.finished[0])
    called = _forbid_building(monkeypatch)
    assert build_all(log=lambda _m: None)
    assert called == []
    assert set(DemoBuild.objects.values_list("state", flat=True)) == {DemoBuildState.READY}
    assert build_all(log=lambda _m: None)  # and again, from the ready records
    assert called == []
    assert panel()["demo_rows"] == []  # nothing to show once all are ready


def test_a_half_built_study_is_resumed_and_others_reused(monkeypatch) -> None:
    for spec in SPECS[1:]:
        StudyFactory(title=spec.title, is_demo=True, status=spec.finished[0])
    half = StudyFactory(title=_spec("practice").title, is_demo=True, status=StudyStatus.DRAFT)
    called = _forbid_building(monkeypatch)

    def resume(*args: Any, **kwargs: Any):
        called.append("resume")
        half.status = StudyStatus.OPEN
        half.save()
        return half

    monkeypatch.setattr(demo_build, "build_practice_study", resume)
    assert build_all(log=lambda _m: None)
    assert called == ["resume"]
    assert DemoBuild.objects.get(key="practice").state == DemoBuildState.READY


def test_a_failure_is_recorded_shown_and_the_next_study_still_built(monkeypatch, caplog) -> None:
    StudyFactory(title=_spec("reader-study").title, is_demo=True, status=StudyStatus.UNBLINDED)

    def broken(*args: Any, **kwargs: Any):
        raise RuntimeError("phantom generation failed: disk full")

    built = []

    def source_trial(*args: Any, **kwargs: Any):
        study = StudyFactory(
            title=_spec("source-trial").title, is_demo=True, status=StudyStatus.OPEN
        )
        built.append(study)
        audit = SimpleNamespace(result=None, problem="no material", scope="")
        return SimpleNamespace(study=study, cases=0, audit=audit)

    monkeypatch.setattr(demo_build, "build_practice_study", broken)
    monkeypatch.setattr(demo_build, "build_source_trial_demo", source_trial)
    assert not build_all(log=lambda _m: None)
    assert built
    failed = DemoBuild.objects.get(key="practice")
    assert failed.state == DemoBuildState.FAILED and "disk full" in failed.error
    assert "Building the demo study" in caplog.text and "disk full" in caplog.text
    assert DemoBuild.objects.get(key="source-trial").state == DemoBuildState.READY
    page = Client().get("/accounts/login/").content.decode()
    assert "The build failed" in page and "phantom generation failed: disk full" in page
    assert "hx-trigger" not in page  # nothing is running: no polling


def test_interrupted_build_is_recorded_as_stopped(monkeypatch) -> None:
    def interrupted(*args: Any, **kwargs: Any):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo_build, "build_practice_study", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_all(log=lambda _m: None)
    record = DemoBuild.objects.get(key="practice")
    assert record.state == DemoBuildState.STOPPED and "resumes" in record.error


def test_pages_show_building_with_progress_then_ready() -> None:
    records_prepare(pid=os.getpid())
    spec = _spec("practice")
    study = StudyFactory(title=spec.title, is_demo=True, status=StudyStatus.DRAFT)
    dataset = DatasetFactory(study=study, kind=DatasetKind.INTERNAL)
    cases = [CaseFactory(dataset=dataset) for _ in range(spec.cases)]
    model = ModelVersion.objects.create(
        name="ncls-lite-demo", version="t", profile="lite", directory=""
    )
    for case in cases[:5]:
        AICaseResult.objects.create(case=case, model_version=model, status=ResultStatus.FAILED)
    record_set(
        "practice", state=DemoBuildState.BUILDING, started_at=timezone.now(), pid=os.getpid()
    )

    anonymous = Client().get("/accounts/login/").content.decode()
    assert spec.title in anonymous and "Being built" in anonymous
    assert f"AI reading cases 5/{spec.cases}" in anonymous
    assert 'hx-trigger="every 3s"' in anonymous and "/demo/build/?ready=0" in anonymous
    assert "<script>" not in anonymous  # htmx attributes only (the CSP allows no inline JS)

    client = Client()
    client.force_login(UserFactory(username="coordinator-demo"))
    home = client.get("/").content.decode()
    assert "Being built" in home and f"AI reading cases 5/{spec.cases}" in home

    record_set("practice", state=DemoBuildState.READY, finished_at=timezone.now())
    refreshed = client.get("/demo/build/?ready=0")
    assert refreshed.status_code == 204 and refreshed["HX-Refresh"] == "true"
    fragment = client.get("/demo/build/?ready=1").content.decode()
    assert "ready to use" in fragment and "Waiting" in fragment
    home = client.get("/").content.decode()
    assert "ready to use" in home


def test_a_dead_builder_shows_as_stopped() -> None:
    records_prepare(pid=2**22 + 12345)  # beyond pid_max: no such process
    page = Client().get("/accounts/login/").content.decode()
    assert "Stopped" in page and "resumes" in page and "hx-trigger" not in page


def test_demo_reader_study_import_resumes_only_the_missing_datasets(
    monkeypatch, tmp_path: Path
) -> None:
    from trials import demo as trials_demo

    existing = StudyFactory(title=trials_demo.TITLE, is_demo=True, status=StudyStatus.DRAFT)
    CaseFactory(dataset=DatasetFactory(study=existing, kind=DatasetKind.INTERNAL))
    DatasetFactory(study=existing, kind=DatasetKind.EXTERNAL)
    manifests = [
        tmp_path / kind / "manifest.csv" for kind in (DatasetKind.INTERNAL, DatasetKind.EXTERNAL)
    ]
    monkeypatch.setattr(trials_demo, "generate_phantom_cases", lambda _out: manifests)
    imported: list[Path] = []

    def case_import(*, manifest: Path, **kwargs: Any):
        imported.append(manifest)
        return SimpleNamespace(ok=True, created_cases=1, problems=[])

    monkeypatch.setattr(trials_demo.services, "case_import", case_import)
    result = trials_demo.build_demo_study(data_dir=tmp_path)
    assert result.study == existing
    assert imported == [manifests[1]]


def test_the_background_builder_stops_quietly_and_records_it(monkeypatch) -> None:
    import signal

    from django.core.management import call_command

    from analysis.management.commands import load_demo

    def interrupted(**kwargs: Any) -> bool:
        records_prepare(pid=os.getpid())
        record_set("practice", state=DemoBuildState.BUILDING)
        raise KeyboardInterrupt

    monkeypatch.setattr(load_demo, "build_all", interrupted)
    monkeypatch.setattr(load_demo, "_watch_parent", lambda _parent: None)
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(SystemExit) as stopped:
            call_command("load_demo", "--background")
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    assert stopped.value.code == 130
    assert set(DemoBuild.objects.values_list("state", flat=True)) == {DemoBuildState.STOPPED}


def test_phantom_renderers_stop_with_an_interrupted_build(monkeypatch, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from trials import demo as trials_demo

    started: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def popen(command: list[str], **kwargs: Any) -> subprocess.Popen:
        process = real_popen([sys.executable, "-c", "import time; time.sleep(60)"], **kwargs)
        started.append(process)
        return process

    def interrupt(*_args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(trials_demo.subprocess, "Popen", popen)
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        with pytest.raises(KeyboardInterrupt):
            trials_demo.generate_phantom_cases(tmp_path)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert len(started) == 3
    assert all(process.poll() is not None for process in started)
