"""Material is fixed when a session is created; AI runs and imports while open are audited amendments."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from inference import runs
from inference import services as inference_services
from inference.services import CaseAIOutput, model_version_register
from readers import services
from readers.models import ReadingSession
from readers.preparation import material_import
from readers.selectors import assignment_slots
from tests.media_factories import make_fan_frame
from tests.readers.factories import CaseFactory, DatasetFactory, StudyFactory, UserFactory
from tests.readers.source_trial_setup import sweep_asset_make
from trials.models import (
    Asset,
    AssetKind,
    AuditAction,
    AuditEvent,
    MaterialSet,
    MaterialSource,
    Membership,
    Role,
    StudyDesign,
    StudyStatus,
)
from trials.services import study_transition
from trials.services.renditions import rendition_make_for_asset

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline(tmp_path: Path, settings):
    def model(version: str):
        directory = tmp_path / version
        directory.mkdir()
        (directory / "fold0.safetensors").write_bytes(version.encode())
        return model_version_register(
            actor=None,
            name="ncls",
            version=version,
            profile="lite",
            directory=directory,
            is_demo=False,
        )

    def run(model_dir: Path, videos: dict[str, Path]) -> CaseAIOutput:
        frame = make_fan_frame(320, 256, overlays=True, seed=len(str(model_dir)))
        return CaseAIOutput(
            views={"AHV": (frame, 1)},
            missing_reasons={},
            severe_probability=0.7,
            severe=True,
            rule="case_head",
            image_labels={},
        )

    settings.FONTANELLE_PIPELINE_RUNNER = run
    return model


def _study(design: str, prefix: str, n_readers: int = 2):
    study = StudyFactory(design=design, status=StudyStatus.DRAFT, title=f"{prefix} study")
    coordinator = UserFactory(username=f"{prefix}-coordinator")
    Membership.objects.create(study=study, user=coordinator, role=Role.COORDINATOR)
    dataset = DatasetFactory(study=study, name=f"{prefix} set")
    case = CaseFactory(dataset=dataset, study=study, code=f"{prefix.upper()}-0")
    for k, orientation in enumerate(("coronal", "sagittal")):
        sweep_asset_make(case, orientation, seed=k)
    readers = [UserFactory(username=f"{prefix}-reader{i}") for i in range(n_readers)]
    for reader in readers:
        services.reader_enrol(
            actor=coordinator, study=study, user=reader, tier="senior", years_experience=9
        )
    return study, coordinator, dataset, case, readers


def _ai(study, dataset, coordinator, model, reason: str = ""):
    """An AI run on the dataset (tasks run eagerly once the run is committed)."""
    run = runs.ai_run_start(
        actor=coordinator, study=study, dataset=dataset, model_version=model, reason=reason
    )
    for case in dataset.cases.all():
        inference_services.ai_case_build(case_id=case.pk, model_version_id=model.pk, run_id=run.pk)
    return run


def test_two_readers_of_one_study_see_the_same_ai_material(pipeline):
    study, coordinator, dataset, _case, (first, second) = _study(StudyDesign.QUALITATIVE, "frz")
    _ai(study, dataset, coordinator, pipeline("v1"))
    services.session_create_for_design(actor=coordinator, study=study, seed=1)
    study_transition(actor=coordinator, study=study, to="open")
    served_first = services.session_serve_next(
        reader=first, session=ReadingSession.objects.get(reader=first)
    )
    time.sleep(0.01)
    # A newer model runs while the study is open: an amendment, with its reason.
    _ai(study, dataset, coordinator, pipeline("v2"), reason="v2 fixes a sagittal detection bug")
    served_second = services.session_serve_next(
        reader=second, session=ReadingSession.objects.get(reader=second)
    )
    assert served_first.material_set_id == served_second.material_set_id
    assert served_first.material_set.author_model_label.startswith("ncls v1")
    # A session created after the amendment gets the amended material.
    later = UserFactory(username="frz-later")
    services.reader_enrol(
        actor=coordinator, study=study, user=later, tier="senior", years_experience=2
    )
    services.session_create_for_design(actor=coordinator, study=study, readers=[later], seed=2)
    session = ReadingSession.objects.get(reader=later)
    assert session.assignments.get().material_set.author_model_label.startswith("ncls v2")


def test_material_missing_when_the_session_was_made_is_not_chosen_at_serve_time(pipeline):
    study, coordinator, dataset, case, (first, second) = _study(StudyDesign.QUALITATIVE, "late")
    services.session_create_for_design(actor=coordinator, study=study, seed=1)
    study_transition(actor=coordinator, study=study, to="open")
    served_first = services.session_serve_next(
        reader=first, session=ReadingSession.objects.get(reader=first)
    )
    _ai(study, dataset, coordinator, pipeline("late-1"), reason="the AI had not been run")
    served_second = services.session_serve_next(
        reader=second, session=ReadingSession.objects.get(reader=second)
    )
    assert served_first.material_set_id is None and served_second.material_set_id is None
    assert MaterialSet.objects.filter(case=case, source=MaterialSource.AI).count() == 1


def test_an_ai_run_while_open_needs_a_reason_and_is_audited(pipeline):
    study, coordinator, dataset, _case, _readers = _study(
        StudyDesign.STANDALONE, "amend", n_readers=1
    )
    model = pipeline("amend-1")
    services.session_create_for_design(actor=coordinator, study=study, seed=1)
    study_transition(actor=coordinator, study=study, to="open")
    with pytest.raises(ValidationError, match="reason"):
        runs.ai_run_start(actor=coordinator, study=study, dataset=dataset, model_version=model)
    run = _ai(
        study, dataset, coordinator, model, reason="late AI read for the standalone comparison"
    )
    event = AuditEvent.objects.get(action=AuditAction.MATERIAL_AMENDED)
    assert event.reason == "late AI read for the standalone comparison"
    assert event.after["ai_run"] == str(run.pk) and event.study_id == study.pk


def test_an_upload_while_open_does_not_join_existing_sessions(pipeline, tmp_path):
    study, coordinator, _dataset, case, (reader, _other) = _study(StudyDesign.STANDALONE, "upl")
    services.session_create_for_design(actor=coordinator, study=study, seed=1)
    study_transition(actor=coordinator, study=study, to="open")
    assignment = ReadingSession.objects.get(reader=reader).assignments.get()
    before = [s.name for s in assignment_slots(assignment=assignment)]
    assert len(before) == 2
    time.sleep(0.01)
    extra = sweep_asset_make(case, "coronal", seed=9)  # a sweep uploaded while the study is open
    assert Asset.objects.filter(case=case, kind=AssetKind.SWEEP_VIDEO).count() == 3
    rendition_make_for_asset(asset_id=extra.pk)
    assert [s.name for s in assignment_slots(assignment=assignment)] == before


def test_a_material_import_while_open_needs_a_reason_and_is_audited(tmp_path):
    study, coordinator, _dataset, case, _readers = _study(
        StudyDesign.STANDALONE, "imp", n_readers=1
    )
    author = UserFactory(username="imp-author")
    study.status = StudyStatus.OPEN
    study.save()
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["code", "author", "initial_severe", "view_AHV"])
        writer.writerow([case.code, author.username, "no", "2"])
    refused = material_import(actor=coordinator, study=study, manifest=manifest, dry_run=False)
    assert not refused.ok and "reason" in refused.problems[0].message
    assert not MaterialSet.objects.filter(case=case).exists()
    done = material_import(
        actor=coordinator,
        study=study,
        manifest=manifest,
        dry_run=False,
        reason="material from the second site arrived late",
    )
    assert done.ok and done.created == 1
    event = AuditEvent.objects.get(action=AuditAction.MATERIAL_AMENDED)
    assert (
        event.reason == "material from the second site arrived late" and event.after["created"] == 1
    )
    # A dry run changes nothing and needs no reason.
    assert (
        material_import(actor=coordinator, study=study, manifest=manifest, dry_run=True).rows == 1
    )
