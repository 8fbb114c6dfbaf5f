"""The exact statements of the reading hot path, so that none is added without a decision.

``test_submit_path`` holds upper budgets; this pins the counts themselves (issue 19: a
read submission's cost is mostly its statements) and names what each one is, on SQLite
and on PostgreSQL (``DATABASE_URL=postgres://…``), where the audit chain takes its lock.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from readers.models import Read
from tests.readers.factories import reading_study
from trials.audit import audit_verify

pytestmark = pytest.mark.django_db

_POSTGRESQL = connection.vendor == "postgresql"
#: Serving the next case (one in the middle of a session): session, user, reading session
#: (the access check), BEGIN, the next case found and locked with the session's case
#: count, its update, its activity event, COMMIT, its media.
SERVE = 9
#: Submitting it: session, user, case (the access check), BEGIN, the case locked with its
#: read, the submission id's case and whether others are unanswered; the read, the case's
#: update, the audit row (on PostgreSQL: the chain's lock, its head, the row; elsewhere
#: the head and the row), COMMIT.
SUBMIT = 11 if _POSTGRESQL else 10
#: The same submission again: session, user, case, BEGIN, the locked case with its read,
#: COMMIT.
REPLAY = 6


def _post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, body or {}, content_type="application/json")


def test_serve_submit_and_replay_run_exactly_their_statements() -> None:
    setup = reading_study(n_cases=3)
    reader = setup.readers[0]
    session = setup.session_of(reader)
    client = Client()
    client.force_login(reader)
    next_url = reverse("readers:api-session-next", kwargs={"session_id": session.pk})

    def submit(token: str, event: str) -> Any:
        url = reverse("readers:api-read", kwargs={"token": token})
        return _post(client, url, {"client_event_id": event, "severe": False, "confidence": 40})

    first = _post(client, next_url).json()["token"]  # the first case also starts the session
    assert submit(first, str(uuid.uuid4())).status_code == 201

    with CaptureQueriesContext(connection) as serve:
        served = _post(client, next_url)
    assert served.status_code == 200 and served.json()["total"] == 3
    token, event = served.json()["token"], str(uuid.uuid4())
    with CaptureQueriesContext(connection) as submitted:
        answer = submit(token, event)
    assert answer.status_code == 201
    with CaptureQueriesContext(connection) as replayed:
        again = submit(token, event)
    assert again.status_code == 200 and again.json() == answer.json()

    counts = (len(serve), len(submitted), len(replayed))
    assert counts == (SERVE, SUBMIT, REPLAY), "\n".join(
        q["sql"][:160] for q in submitted.captured_queries
    )
    assert Read.objects.filter(assignment__token=token).count() == 1
    assert audit_verify().ok


def test_the_last_submission_completes_the_session_with_two_statements_more() -> None:
    # Completion is known from the locking statement: it adds the session's update and its
    # audit row, and no query to find out.
    setup = reading_study(n_cases=2)
    reader = setup.readers[0]
    session = setup.session_of(reader)
    client = Client()
    client.force_login(reader)
    next_url = reverse("readers:api-session-next", kwargs={"session_id": session.pk})
    counts = []
    for _ in range(2):
        token = _post(client, next_url).json()["token"]
        url = reverse("readers:api-read", kwargs={"token": token})
        body = {"client_event_id": str(uuid.uuid4()), "severe": True, "confidence": 90}
        with CaptureQueriesContext(connection) as submitted:
            assert _post(client, url, body).status_code == 201
        counts.append(len(submitted))
    audit_more = 3 if _POSTGRESQL else 2
    assert counts[1] == counts[0] + 1 + audit_more
    session.refresh_from_db()
    assert session.completed_at is not None
    assert audit_verify().ok
