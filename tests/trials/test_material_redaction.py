"""A junior's prepared material is his answer: hidden from coordinators until the lock.

The audit API already redacts ``material.created`` rows of human material until the study is
locked (:func:`trials.audit.audit_event_redacted`); the materials API and the case page must
follow the same rule, or a coordinator reads there what the audit trail hides.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.trials.factories import CaseFactory, MembershipFactory, StudyFactory, UserFactory
from trials.models import (
    MaterialSet,
    MaterialSource,
    MaterialStatus,
    Rendition,
    RenditionKind,
    RenditionPurpose,
    RenditionStatus,
    Role,
    Study,
    StudyDesign,
    StudyStatus,
)

pytestmark = pytest.mark.django_db

#: A frame index no other number on the page or in the API would take by chance.
JUNIOR_FRAME = 7331


def _world() -> tuple[Study, Any, Any, MaterialSet]:
    study = StudyFactory(design=StudyDesign.SOURCE_BLINDED, status=StudyStatus.OPEN)
    coordinator = UserFactory(username="coord-material")
    MembershipFactory(study=study, user=coordinator, role=Role.COORDINATOR)
    junior = UserFactory(username="junior-material")
    MembershipFactory(study=study, user=junior, role=Role.READER)
    case = CaseFactory(study=study, dataset__study=study, code="MAT-1")
    human = MaterialSet.objects.create(
        case=case,
        source=MaterialSource.JUNIOR,
        author_user=junior,
        status=MaterialStatus.COMPLETE,
        initial_severe=True,
    )
    Rendition.objects.create(
        case=case,
        material_set=human,
        kind=RenditionKind.IMAGE,
        purpose=RenditionPurpose.MATERIAL_VIEW,
        view="C1",
        frame_index=JUNIOR_FRAME,
        status=RenditionStatus.READY,
    )
    MaterialSet.objects.create(
        case=case,
        source=MaterialSource.AI,
        author_model_id=uuid.uuid4(),
        author_model_label="demo model",
        status=MaterialStatus.COMPLETE,
        initial_severe=True,
        initial_probability=0.8123,
    )
    return study, coordinator, case, human


def _materials(api: APIClient, study: Study) -> list[dict[str, Any]]:
    body = api.get(f"/api/studies/{study.pk}/materials/", {"page_size": 100}).json()
    return body["results"] if isinstance(body, dict) else body


def test_materials_api_hides_a_juniors_diagnosis_and_views_until_lock() -> None:
    study, coordinator, _case, _human = _world()
    api = APIClient()
    api.force_authenticate(coordinator)
    for status in (StudyStatus.DRAFT, StudyStatus.OPEN):
        Study.objects.filter(pk=study.pk).update(status=status)
        rows = {row["source"]: row for row in _materials(api, study)}
        junior = rows[MaterialSource.JUNIOR]
        assert junior["redacted"] is True, status
        assert junior["initial_severe"] is None and junior["initial_probability"] is None
        assert junior["renditions"] == []
        assert str(JUNIOR_FRAME) not in str(junior)
        # The AI's own material is not an answer (the audit keeps it whole too).
        ai = rows[MaterialSource.AI]
        assert ai["redacted"] is False and ai["initial_severe"] is True
        assert ai["initial_probability"] == pytest.approx(0.8123)
    for status in (StudyStatus.LOCKED, StudyStatus.UNBLINDED):
        Study.objects.filter(pk=study.pk).update(status=status)
        junior = {row["source"]: row for row in _materials(api, study)}[MaterialSource.JUNIOR]
        assert junior["redacted"] is False and junior["initial_severe"] is True
        assert [r["frame_index"] for r in junior["renditions"]] == [JUNIOR_FRAME]


def test_case_page_hides_a_juniors_diagnosis_and_views_until_lock() -> None:
    study, coordinator, case, human = _world()
    client = Client()
    client.force_login(coordinator)
    for status in (StudyStatus.DRAFT, StudyStatus.OPEN):
        Study.objects.filter(pk=study.pk).update(status=status)
        page = client.get(f"/cases/{case.pk}/")
        assert page.status_code == 200
        html = page.content.decode()
        block = html.split(f'id="material-{human.pk}"')
        assert len(block) == 2, "the junior's material set is listed (without its answer)"
        junior_block = block[1].split("</section>")[0]
        assert "hidden until the study is locked" in junior_block
        assert "severe" not in junior_block
        assert "<img" not in junior_block
        # The AI's diagnosis stays visible, as in the audit trail.
        assert "p = 0.812" in html
    Study.objects.filter(pk=study.pk).update(status=StudyStatus.LOCKED)
    html = client.get(f"/cases/{case.pk}/").content.decode()
    junior_block = html.split(f'id="material-{human.pk}"')[1].split("</section>")[0]
    assert "hidden until the study is locked" not in junior_block
    assert "<img" in junior_block and "C1" in junior_block


def test_rendition_route_serves_a_juniors_view_only_after_the_lock(tmp_path, settings) -> None:
    from django.core.files.base import ContentFile

    settings.MEDIA_ROOT = str(tmp_path)
    study, coordinator, _case, human = _world()
    view = Rendition.objects.get(material_set=human)
    view.file.save("junior-view.png", ContentFile(b"\x89PNG\r\n\x1a\njunior"), save=True)
    client = Client()
    client.force_login(coordinator)
    url = f"/renditions/{view.pk}/"
    for status in (StudyStatus.DRAFT, StudyStatus.OPEN):
        Study.objects.filter(pk=study.pk).update(status=status)
        assert client.get(url).status_code == 404, status
    Study.objects.filter(pk=study.pk).update(status=StudyStatus.LOCKED)
    served = client.get(url)
    assert served.status_code == 200
    assert served.getvalue().endswith(b"junior")
