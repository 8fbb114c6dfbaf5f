"""Services of the trials app: state rules, idempotence, audit rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from tests.trials.factories import StudyFactory, UserFactory, signature_for
from trials import services
from trials.models import (
    AssetKind,
    AuditEvent,
    MaterialSet,
    MaterialSource,
    Membership,
    Rendition,
    RenditionStatus,
    Role,
    StudyDesign,
)
from trials.tasks import make_asset_rendition

pytestmark = pytest.mark.django_db


def test_study_create_makes_the_creator_coordinator(coordinator: Any) -> None:
    study = services.study_create(
        actor=coordinator, title="S", design=StudyDesign.QUALITATIVE, cine_fps=30
    )
    assert Membership.objects.filter(study=study, user=coordinator, role=Role.COORDINATOR).exists()
    with pytest.raises(ValidationError):
        services.study_create(actor=coordinator, title="S", design="nonsense")


def test_settings_change_only_in_draft(study: Any, coordinator: Any) -> None:
    services.study_update_settings(
        actor=coordinator, study=study, washout_days=30, allow_revisits=True
    )
    study.refresh_from_db()
    assert (study.washout_days, study.allow_revisits) == (30, True)
    with pytest.raises(ValidationError):
        services.study_update_settings(actor=coordinator, study=study, status="open")
    services.study_transition(actor=coordinator, study=study, to="open")
    with pytest.raises(ValidationError):
        services.study_update_settings(actor=coordinator, study=study, washout_days=1)
    row = AuditEvent.objects.filter(action="study.updated").get()
    assert row.before == {"washout_days": 28, "allow_revisits": False}


def test_membership_add_is_idempotent(study: Any, coordinator: Any) -> None:
    reader = UserFactory(username="r1")
    first = services.membership_add(actor=coordinator, study=study, user=reader, role=Role.READER)
    again = services.membership_add(actor=coordinator, study=study, user=reader, role=Role.READER)
    assert first == again
    assert (
        AuditEvent.objects.filter(action="membership.added", target_id=str(first.pk)).count() == 1
    )


def test_dataset_needs_a_site_of_its_study(study: Any, coordinator: Any) -> None:
    foreign_site = services.site_create(actor=coordinator, study=StudyFactory(), name="Elsewhere")
    with pytest.raises(ValidationError):
        services.dataset_create(
            actor=coordinator, study=study, name="X", kind="internal", site=foreign_site
        )
    with pytest.raises(ValidationError):
        services.dataset_create(actor=coordinator, study=study, name="Y", kind="training")


def test_case_rules(study: Any, coordinator: Any) -> None:
    dataset = study.datasets.get()
    case = services.case_create(
        actor=coordinator, dataset=dataset, code="E-1", conditions=["normal"], ga_weeks=33
    )
    with pytest.raises(ValidationError):
        services.case_exclude(actor=coordinator, case=case, reason=" ")
    services.case_exclude(actor=coordinator, case=case, reason="off-axis sweep")
    assert AuditEvent.objects.filter(action="case.excluded", reason="off-axis sweep").exists()
    with pytest.raises(ValidationError):
        services.case_create(
            actor=coordinator, dataset=dataset, code="E-2", conditions=["normal"], ga_weeks=50
        )
    with pytest.raises(ValidationError):
        services.case_create(
            actor=coordinator, dataset=dataset, code="E-3", conditions=["normal"], colour="red"
        )
    for to in ("open", "locked"):
        services.study_transition(
            actor=coordinator, study=study, to=to, signature=signature_for(coordinator)
        )
    dataset.refresh_from_db()
    with pytest.raises(ValidationError):
        services.case_create(actor=coordinator, dataset=dataset, code="E-4", conditions=["normal"])


def test_rendition_task_is_idempotent(
    study: Any, coordinator: Any, media_samples: dict[str, Path]
) -> None:
    case = services.case_create(
        actor=coordinator, dataset=study.datasets.get(), code="I-1", conditions=["normal"]
    )
    asset = services.asset_ingest(
        actor=coordinator,
        case=case,
        path=media_samples["mp4"],
        kind=AssetKind.SWEEP_VIDEO,
        orientation="sagittal",
    )
    first = make_asset_rendition.delay(asset_id=str(asset.pk)).get()
    rendition = Rendition.objects.get(pk=first)
    assert rendition.status == RenditionStatus.READY and rendition.frame_count == 6
    assert (rendition.width, rendition.height) == (640, 512)
    second = make_asset_rendition.delay(asset_id=str(asset.pk)).get()
    assert second == first
    assert Rendition.objects.get(pk=first).sha256 == rendition.sha256
    assert AuditEvent.objects.filter(action="rendition.made").count() == 1


def test_renditions_of_a_material_set(study: Any, coordinator: Any, still_frame: Any) -> None:
    case = services.case_create(
        actor=coordinator, dataset=study.datasets.get(), code="M-1", conditions=["normal"]
    )
    material = MaterialSet.objects.create(
        case=case, source=MaterialSource.JUNIOR, author_user=coordinator
    )
    made = services.rendition_make_for_view(
        material_set=material, view="AHV", frame=still_frame, frame_index=3
    )
    missing = services.rendition_make_for_view(material_set=material, view="TVV", frame=None)
    assert made.status == RenditionStatus.READY and made.content_type == "image/png"
    assert missing.not_obtainable and not missing.file
    # The same view again replaces the picture in place (one rendition per view).
    again = services.rendition_make_for_view(
        material_set=material, view="AHV", frame=still_frame[::-1].copy()
    )
    assert again.pk == made.pk and again.sha256 != made.sha256
    assert Rendition.objects.filter(material_set=material).count() == 2
