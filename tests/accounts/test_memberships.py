"""An ended membership: no access to the study's pages and API; the reads stay."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from readers import services as reading
from readers.models import Read
from readers.services import ReadAnswer
from tests.readers.factories import reading_study
from tests.trials.factories import UserFactory
from trials import services
from trials.models import AuditAction, AuditEvent, Membership, Role
from trials.permissions import study_roles

pytestmark = pytest.mark.django_db

ANSWER = ReadAnswer(severe=True, confidence=80, conditions=("hydrocephalus",))


@pytest.fixture
def read_once() -> Any:
    """A reading study whose reader has read one case; his session, assignments and read."""
    setup = reading_study(n_cases=2, prefix="end")
    reader = setup.readers[0]
    session = setup.session_of(reader)
    first = reading.session_next_assignment(session=session)
    assert first is not None
    reading.assignment_serve(reader=reader, assignment=first)
    read = reading.read_submit(
        reader=reader, assignment=first, answer=ANSWER, client_event_id=uuid.uuid4()
    )
    following = reading.session_next_assignment(session=session)
    return setup, reader, session, first, following, read


def test_an_ended_reader_loses_pages_and_api_but_his_reads_stay(read_once: Any) -> None:
    setup, reader, session, first, following, read = read_once
    client = Client()
    client.force_login(reader)
    assert client.get(f"/read/{following.token}/").status_code == 200
    assert len(client.get("/api/reading/sessions/").json()) == 1

    coordinator = Client()
    coordinator.force_login(setup.coordinator)
    membership = Membership.objects.get(study=setup.study, user=reader, role=Role.READER)
    response = coordinator.post(
        f"/studies/{setup.study.pk}/people/{membership.pk}/end/", {"reason": "left the hospital"}
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.ended_at is not None and membership.ended_by == setup.coordinator
    event = AuditEvent.objects.get(action=AuditAction.MEMBERSHIP_ENDED)
    assert event.reason == "left the hospital" and event.study_id == setup.study.pk

    assert study_roles(reader, setup.study) == set()
    assert client.post(f"/read/{first.token}/revise/", {"severe": "no"}).status_code == 404
    for url in (
        f"/read/{following.token}/",
        f"/read/session/{session.pk}/",
        f"/api/reading/sessions/{session.pk}/",
        f"/api/reading/assignments/{following.token}/",
    ):
        assert client.get(url).status_code == 404, url
    submit = client.post(
        f"/api/reading/assignments/{following.token}/read/",
        {"severe": True, "confidence": 50, "client_event_id": str(uuid.uuid4())},
        content_type="application/json",
    )
    assert submit.status_code == 404
    assert client.get("/api/reading/sessions/").json() == []
    assert setup.study.title not in client.get("/read/").content.decode()
    # The history stays: the read, the session, the membership row (ended).
    assert Read.objects.filter(pk=read.pk).exists()
    assert Membership.objects.filter(pk=membership.pk).exists()
    page = coordinator.get(f"/studies/{setup.study.pk}/people/").content.decode()
    assert "left the hospital" in page


def test_an_ended_statistician_loses_the_study_through_the_api(db: None) -> None:
    coordinator = UserFactory(username="c1")
    statistician = UserFactory(username="s1")
    study = services.study_create(actor=coordinator, title="Ended", design="standalone")
    membership = services.membership_add(
        actor=coordinator, study=study, user=statistician, role=Role.STATISTICIAN
    )
    client = Client()
    client.force_login(statistician)
    assert client.get(f"/api/studies/{study.pk}/").status_code == 200
    assert client.get(f"/studies/{study.pk}/").status_code == 200

    api = Client()
    api.force_login(coordinator)
    url = f"/api/studies/{study.pk}/members/{membership.pk}/end/"
    assert api.post(url, {"reason": ""}, content_type="application/json").status_code == 400
    response = api.post(url, {"reason": "contract over"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["end_reason"] == "contract over"
    assert api.post(url, {"reason": "again"}, content_type="application/json").status_code == 400

    assert client.get(f"/api/studies/{study.pk}/").status_code == 404
    assert client.get(f"/studies/{study.pk}/").status_code == 404
    assert client.get("/api/studies/").json()["results"] == []
    listed = api.get(f"/api/studies/{study.pk}/members/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert any(r["username"] == "s1" for r in rows)


def test_the_last_coordinator_cannot_be_ended_and_a_reason_is_needed(db: None) -> None:
    coordinator = UserFactory(username="only")
    study = services.study_create(actor=coordinator, title="One coordinator", design="standalone")
    membership = Membership.objects.get(study=study, user=coordinator)
    with pytest.raises(ValidationError, match="needs a coordinator"):
        services.membership_end(actor=coordinator, membership=membership, reason="leaving")
    with pytest.raises(ValidationError, match="reason"):
        services.membership_end(actor=coordinator, membership=membership, reason="  ")
    other = UserFactory(username="second")
    services.membership_add(actor=coordinator, study=study, user=other, role=Role.COORDINATOR)
    services.membership_end(actor=other, membership=membership, reason="handed over")
    client = Client()
    client.force_login(coordinator)
    assert client.get(f"/studies/{study.pk}/people/").status_code == 404


def test_an_ended_reader_gets_no_new_sessions(read_once: Any) -> None:
    setup, reader, *_ = read_once
    membership = Membership.objects.get(study=setup.study, user=reader, role=Role.READER)
    services.membership_end(actor=setup.coordinator, membership=membership, reason="left")
    with pytest.raises(ValidationError):
        reading.session_create_for_design(
            actor=setup.coordinator, study=setup.study, readers=[reader]
        )
