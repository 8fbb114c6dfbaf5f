"""The reading API's hot path (serve the next case, submit, replay): answers and query budgets."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from readers import services
from readers.models import Read
from tests.readers.factories import UserFactory, reading_study
from trials.audit import audit_verify
from trials.models import AuditAction, AuditEvent, StudyStatus

pytestmark = pytest.mark.django_db

# Statements per request on PostgreSQL, BEGIN and COMMIT included (SQLite needs fewer), for
# a case in the middle of a session (the first also starts it, the last completes it).
# Budgets for the path every submission takes: a query added to it should be a decision.
SERVE_QUERIES = (
    11  # session, user, reading session, BEGIN, next case, its lock, 2 writes, COMMIT, media, total
)
SUBMIT_QUERIES = (
    13  # session, user, case, BEGIN, replay check, lock, 2 writes, completion, audit x3, COMMIT
)
REPLAY_QUERIES = 6  # session, user, case, BEGIN, replay check, COMMIT

# tool_use (counts of the workstation tools used) was added to reads on purpose (798d33d).
READ_FIELDS = {
    "token",
    "client_event_id",
    "severe",
    "confidence",
    "rating",
    "conditions",
    "ivh_grade",
    "comment",
    "answer",
    "tool_use",
    "served_at",
    "answered_at",
    "wall_ms",
    "active_ms",
    "read_ms",
    "revision",
}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _next(client: Client, session_id: Any) -> Any:
    return client.post(
        reverse("readers:api-session-next", kwargs={"session_id": session_id}),
        content_type="application/json",
    )


def _submit(client: Client, token: str, event: str, **answer: Any) -> Any:
    body = {"client_event_id": event, "severe": True, "confidence": 70} | answer
    return client.post(
        reverse("readers:api-read", kwargs={"token": token}), body, content_type="application/json"
    )


def test_serve_submit_and_replay_stay_within_their_query_budgets(
    django_assert_max_num_queries: Any,
) -> None:
    setup = reading_study(n_cases=3)
    reader = setup.readers[0]
    session = setup.session_of(reader)
    client = _client(reader)
    # The first case also starts the session; measure a case in the middle.
    assert (
        _submit(client, _next(client, session.pk).json()["token"], str(uuid.uuid4())).status_code
        == 201
    )
    with django_assert_max_num_queries(SERVE_QUERIES):
        served = _next(client, session.pk)
    assert served.status_code == 200
    case = served.json()
    assert case["position"] == 2 and case["total"] == 3 and case["read"] is None
    assert case["source_guess"] is None and not case["answered"]
    assert len(case["slots"]) == 8  # six views and two sweeps; never the AI's material here
    event = str(uuid.uuid4())
    with django_assert_max_num_queries(SUBMIT_QUERIES):
        first = _submit(client, case["token"], event)
    assert first.status_code == 201
    assert set(first.json()) == READ_FIELDS and first.json()["token"] == case["token"]
    assert (
        first.json()["served_at"].endswith("Z")
        and first.json()["read_ms"] == first.json()["active_ms"]
    )
    with django_assert_max_num_queries(REPLAY_QUERIES):
        again = _submit(client, case["token"], event, severe=False, confidence=1)
    assert again.status_code == 200 and again.json() == first.json()
    other = _submit(client, case["token"], str(uuid.uuid4()))
    assert other.status_code == 409
    assert Read.objects.filter(assignment__token=case["token"]).count() == 1


def test_next_serves_in_order_then_says_the_session_is_done() -> None:
    setup = reading_study(n_cases=3)
    reader = setup.readers[0]
    session = setup.session_of(reader)
    client = _client(reader)
    positions = []
    while (served := _next(client, session.pk)).status_code == 200:
        case = served.json()
        positions.append(case["position"])
        assert (
            _next(client, session.pk).json()["token"] == case["token"]
        )  # served again until answered
        assert _submit(client, case["token"], str(uuid.uuid4())).status_code == 201
    assert served.status_code == 204
    assert positions == [1, 2, 3]
    session.refresh_from_db()
    assert session.completed_at is not None and session.started_at is not None
    assert AuditEvent.objects.filter(action=AuditAction.READ_SUBMITTED).count() == 3
    assert AuditEvent.objects.filter(action=AuditAction.SESSION_COMPLETED).count() == 1
    assert audit_verify().ok


def test_next_is_refused_for_someone_elses_session_and_a_closed_study() -> None:
    setup = reading_study(n_cases=1, n_readers=2)
    mine = setup.session_of(setup.readers[0])
    assert _next(_client(setup.readers[1]), mine.pk).status_code == 404
    with pytest.raises(services.ReadingRefused):
        services.session_serve_next(reader=setup.readers[1], session=mine)
    setup.study.status = StudyStatus.LOCKED
    setup.study.save(update_fields=["status"])
    refused = _next(_client(setup.readers[0]), mine.pk)
    assert refused.status_code == 403 and refused.json()["detail"]


def test_submission_works_with_a_bare_assignment_and_with_one_from_the_access_check() -> None:
    # The lock reuses the session and study the caller fetched, or fetches them itself.
    setup = reading_study(n_cases=2)
    reader = setup.readers[0]
    session = setup.session_of(reader)
    for _ in range(2):
        bare = services.session_next_assignment(session=session)
        assert bare is not None
        services.assignment_serve(reader=reader, assignment=bare)
        bare = type(bare).objects.get(pk=bare.pk)  # nothing cached
        read = services.read_submit(
            reader=reader,
            assignment=bare,
            client_event_id=uuid.uuid4(),
            answer=services.ReadAnswer(severe=False, confidence=10),
        )
        assert read.assignment.session.study_id == setup.study.pk
    session.refresh_from_db()
    assert session.completed_at is not None


def test_a_submission_id_reused_for_another_case_is_refused() -> None:
    setup = reading_study(n_cases=2)
    reader = setup.readers[0]
    session = setup.session_of(reader)
    client = _client(reader)
    event = str(uuid.uuid4())
    first = _next(client, session.pk).json()["token"]
    assert _submit(client, first, event).status_code == 201
    second = _next(client, session.pk).json()["token"]
    assert _submit(client, second, event).status_code == 409
    stranger = UserFactory(username="stranger")
    assert _submit(_client(stranger), second, str(uuid.uuid4())).status_code == 404
