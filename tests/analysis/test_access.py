"""Unblinded data only after lock (issue 16): no results, reads or exports while a study
is a draft or open, whatever its design; tiers come from the reader's membership."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from analysis.selectors import study_cases_frame, study_reads_frame
from readers.models import Assignment, Read, ReadingSession, SessionPhase
from tests.analysis.helpers import make_study
from trials.models import Membership, Role, Study, StudyDesign, StudyStatus

pytestmark = pytest.mark.django_db


def test_standalone_results_wait_for_lock() -> None:
    study, users = make_study(cases_per_dataset=4, sweeps=0, prefix="S")
    for status in (StudyStatus.DRAFT, StudyStatus.OPEN):
        Study.objects.filter(pk=study.pk).update(design=StudyDesign.STANDALONE, status=status)
        for who in ("statistician", "coordinator"):
            client = Client()
            client.force_login(users[who])
            api = client.get(reverse("analysis:api-report", args=[study.pk, "performance"]))
            assert api.status_code == 403 and "locked" in api.json()["detail"], who
            page = client.get(reverse("analysis:report", args=[study.pk, "performance"]))
            assert page.status_code == 403 and "locked" in page.content.decode()
            for url in (
                reverse("analysis:export-reads", args=[study.pk, "long"]),
                reverse("analysis:export-zip", args=[study.pk]),
                reverse("analysis:export-table", args=[study.pk, "performance", "table2", "csv"]),
            ):
                response = client.get(url)
                assert response.status_code == 403 and "locked" in response.content.decode(), url


def _read(study: Study, reader, case, phase: str = SessionPhase.UNAIDED) -> Read:
    session, _ = ReadingSession.objects.get_or_create(
        study=study, reader=reader, phase=phase, defaults={"order_seed": 1}
    )
    assignment = Assignment.objects.create(
        session=session, position=session.assignments.count() + 1, case=case
    )
    now = timezone.now()
    return Read.objects.create(
        assignment=assignment,
        reader=reader,
        client_event_id=uuid.uuid4(),
        severe=True,
        confidence=70,
        served_at=now,
        answered_at=now,
        wall_ms=1000,
        active_ms=900,
    )


def test_reads_carry_the_tier_of_the_membership_in_their_study() -> None:
    first, users = make_study(cases_per_dataset=2, sweeps=0, prefix="T")
    second, _ = make_study(cases_per_dataset=2, sweeps=0, prefix="U")
    person = users["junior1"]
    Membership.objects.create(study=second, user=person, role=Role.READER, tier="senior")
    _read(first, person, first.cases.order_by("code").first())
    _read(second, person, second.cases.order_by("code").first())
    tiers = {}
    for study in (first, second):
        frame = study_reads_frame(study=study, cases=study_cases_frame(study=study))
        tiers[study.pk] = set(frame.loc[frame["reader"] == person.username, "tier"])
    assert tiers == {first.pk: {"junior"}, second.pk: {"senior"}}
