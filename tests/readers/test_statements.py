"""The read path's statements written once give what the querysets they replace give.

Each statement of ``readers.statements`` (and the session and user loads of
``config.sessions`` and ``accounts.backends``) is compared with the ORM queryset it
stands for, field by field, on the test database (SQLite here, PostgreSQL in CI), for
the reader it belongs to and for everyone it must refuse.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import DatabaseError, transaction
from django.db.models import Model
from django.test import Client
from django.utils import timezone

from accounts.backends import SessionUserBackend
from config.sessions import SessionStore
from readers import statements
from readers.models import Assignment, Read, ReadingSession
from tests.readers.factories import UserFactory, reading_study
from trials.models import Membership, Role

pytestmark = pytest.mark.django_db


def _fields(instance: Model, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        f.attname: getattr(instance, f.attname)
        for f in type(instance)._meta.concrete_fields
        if f.name not in skip
    }


def _answered(setup: Any, reader: Any) -> Read:
    """The reader's first case answered (as the service leaves it)."""
    assignment = setup.session_of(reader).assignments.order_by("position").first()
    now = timezone.now()
    Assignment.objects.filter(pk=assignment.pk).update(served_at=now, answered_at=now)
    return Read.objects.create(
        assignment=assignment,
        reader=reader,
        client_event_id=uuid.uuid4(),
        severe=True,
        confidence=70,
        conditions=["ivh"],
        ivh_grade=3,
        answer={"note": "x"},
        tool_use={"zoom": 2},
        served_at=now,
        answered_at=now,
        wall_ms=5,
        active_ms=4,
    )


def test_reader_session_is_the_querysets_row_and_refuses_others() -> None:
    setup = reading_study(n_cases=2, n_readers=2)
    reader, other = setup.readers
    session = setup.session_of(reader)

    found = statements.reader_session(reader.pk, session.pk)
    expected = ReadingSession.objects.select_related("study").get(pk=session.pk)
    assert found is not None
    assert _fields(found, skip=("case_order",)) == _fields(expected, skip=("case_order",))
    assert _fields(found.study) == _fields(expected.study)
    assert found.case_order == expected.case_order  # deferred: read on demand

    assert statements.reader_session(other.pk, session.pk) is None
    assert statements.reader_session(reader.pk, uuid.uuid4()) is None
    assert statements.reader_session(reader.pk, "not-a-uuid") is None
    # An ended reader membership reads nothing, as trials.permissions has it.
    Membership.objects.filter(study=setup.study, user=reader, role=Role.READER).update(
        ended_at=timezone.now(), end_reason="left the study"
    )
    assert statements.reader_session(reader.pk, session.pk) is None


def test_reader_assignment_is_the_querysets_row_and_refuses_others() -> None:
    setup = reading_study(n_cases=2, n_readers=2)
    reader, other = setup.readers
    assignment = setup.session_of(reader).assignments.order_by("position").last()
    assert assignment is not None

    found = statements.reader_assignment(reader.pk, assignment.token)
    expected = Assignment.objects.select_related("session__study").get(pk=assignment.pk)
    assert found is not None
    assert _fields(found) == _fields(expected)
    assert _fields(found.session, skip=("case_order",)) == _fields(
        expected.session, skip=("case_order",)
    )
    assert _fields(found.session.study) == _fields(expected.session.study)

    assert statements.reader_assignment(other.pk, assignment.token) is None
    assert statements.reader_assignment(reader.pk, "no-such-token") is None
    Membership.objects.filter(study=setup.study, user=reader).update(
        ended_at=timezone.now(), end_reason="left the study"
    )
    assert statements.reader_assignment(reader.pk, assignment.token) is None


def test_next_unanswered_is_the_first_open_case_with_the_sessions_count() -> None:
    setup = reading_study(n_cases=3)
    reader = setup.readers[0]
    session = setup.session_of(reader)
    _answered(setup, reader)

    with transaction.atomic():
        found = statements.next_unanswered_locked(session)
    expected = session.assignments.filter(answered_at__isnull=True).order_by("position").first()
    assert found is not None and expected is not None
    assert _fields(found) == _fields(expected)
    assert found.session_total == 3  # type: ignore[attr-defined]

    Assignment.objects.filter(session=session).update(answered_at=timezone.now())
    with transaction.atomic():
        assert statements.next_unanswered_locked(session) is None


def test_locked_for_answer_brings_the_read_the_event_and_the_sessions_rest() -> None:
    setup = reading_study(n_cases=2, n_readers=2)
    reader, _other = setup.readers
    read = _answered(setup, reader)
    first, second = setup.session_of(reader).assignments.order_by("position")

    with transaction.atomic():
        answered = statements.assignment_locked_for_answer(first.pk, read.client_event_id)
    assert _fields(answered) == _fields(Assignment.objects.get(pk=first.pk))
    assert _fields(answered.read) == _fields(Read.objects.get(pk=read.pk))
    assert answered.read.assignment is answered
    assert answered.event_assignment_id == first.pk  # type: ignore[attr-defined]
    assert answered.others_unanswered is True  # type: ignore[attr-defined]

    with transaction.atomic():
        open_case = statements.assignment_locked_for_answer(second.pk, uuid.uuid4())
    with pytest.raises(Read.DoesNotExist):
        open_case.read  # noqa: B018 (the joined absence, not a query)
    assert open_case.event_assignment_id is None  # type: ignore[attr-defined]
    assert open_case.others_unanswered is False  # type: ignore[attr-defined]
    # The event id of another case's read is reported (the service refuses it).
    with transaction.atomic():
        reused = statements.assignment_locked_for_answer(second.pk, read.client_event_id)
    assert reused.event_assignment_id == first.pk  # type: ignore[attr-defined]

    with pytest.raises(Assignment.DoesNotExist), transaction.atomic():
        statements.assignment_locked_for_answer(uuid.uuid4(), uuid.uuid4())


def test_the_session_store_loads_live_sessions_only() -> None:
    user = UserFactory(username="session-user")
    client = Client()
    client.force_login(user)
    key = client.cookies["sessionid"].value

    store = SessionStore(session_key=key)
    assert store["_auth_user_id"] == str(user.pk)
    assert store.session_key == key

    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(1))
    expired = SessionStore(session_key=key)
    assert expired.load() == {}
    assert expired.session_key is None  # as Django's: a stale key is dropped, never reused
    assert SessionStore(session_key="x" * 40).load() == {}


def test_the_user_backend_loads_the_user_as_the_model_backend_does() -> None:
    user = UserFactory(username="backend-user", email="b@example.org")
    backend = SessionUserBackend()

    loaded = backend.get_user(user.pk)
    assert loaded is not None
    assert _fields(loaded) == _fields(get_user_model().objects.get(pk=user.pk))
    assert backend.get_user(10**9) is None
    assert backend.get_user("not-a-number") is None

    user.is_active = False
    user.save(update_fields=["is_active"])
    assert backend.get_user(user.pk) is None  # ModelBackend's user_can_authenticate


def test_a_logged_in_reader_is_served_through_the_statements() -> None:
    # End to end: the session cookie, the user, the access check and the lock, over HTTP.
    setup = reading_study(n_cases=2)
    reader = setup.readers[0]
    client = Client()
    client.force_login(reader)
    session = setup.session_of(reader)
    served = client.post(
        f"/api/reading/sessions/{session.pk}/next/", {}, content_type="application/json"
    )
    assert served.status_code == 200, served.content
    assert served.json()["total"] == 2
    stranger = Client()
    stranger.force_login(UserFactory(username="stranger"))
    refused = stranger.post(
        f"/api/reading/sessions/{session.pk}/next/", {}, content_type="application/json"
    )
    assert refused.status_code == 404


def test_case_media_is_the_querysets_renditions_in_its_order() -> None:
    from trials.models import Rendition, RenditionPurpose, RenditionStatus

    setup = reading_study(n_cases=2)
    reader = setup.readers[0]
    assignment = setup.session_of(reader).assignments.select_related("session").first()
    assert assignment is not None

    def expected(before: Any) -> list[Any]:
        return list(
            Rendition.objects.filter(
                status=RenditionStatus.READY,
                case_id=assignment.case_id,
                purpose=RenditionPurpose.CASE_MEDIA,
                asset__case_id=assignment.case_id,
                asset__created__lte=before,
            ).values_list("pk", flat=True)
        )

    found = statements.case_media(assignment.case_id, assignment.session.created)
    assert [r.pk for r in found] == expected(assignment.session.created)
    assert found, "the factory's case has media: the comparison must not be of two empty lists"
    assert [_fields(r) for r in found] == [_fields(Rendition.objects.get(pk=r.pk)) for r in found]
    # Media uploaded after the session was made are not the session's; a rendition that is
    # not ready yet is not shown.
    early = assignment.session.created - timedelta(days=365)
    assert statements.case_media(assignment.case_id, early) == expected(early) == []
    Rendition.objects.filter(pk=found[0].pk).update(status=RenditionStatus.PENDING)
    assert [
        r.pk for r in statements.case_media(assignment.case_id, assignment.session.created)
    ] == (expected(assignment.session.created))
    assert len(expected(assignment.session.created)) == len(found) - 1


def test_update_and_insert_write_what_the_orms_save_writes() -> None:
    from django.db.models import signals

    from config import statements as sql
    from readers.models import ActivityEvent, ActivityKind

    setup = reading_study(n_cases=2)
    reader = setup.readers[0]
    assignment = setup.session_of(reader).assignments.order_by("position").first()
    assert assignment is not None
    before = assignment.modified
    now = timezone.now()
    assignment.served_at = now
    assignment.active_ms = 1234
    assignment.draft = {"severe": True, "comment": "ü"}
    sql.update(assignment, ["served_at", "active_ms", "draft", "modified"])
    stored = Assignment.objects.get(pk=assignment.pk)
    assert (stored.served_at, stored.active_ms, stored.draft) == (now, 1234, assignment.draft)
    assert stored.modified == assignment.modified > before  # auto_now ran, as in save()

    event = ActivityEvent(assignment=assignment, kind=ActivityKind.HIDDEN, received_at=now)
    sql.insert(event)
    assert event.pk is not None and not event._state.adding
    assert _fields(ActivityEvent.objects.get(pk=event.pk)) == _fields(event)

    read = Read(
        assignment=assignment,
        reader=reader,
        client_event_id=uuid.uuid4(),
        severe=False,
        confidence=10,
        conditions=[],
        served_at=now,
        answered_at=now,
        wall_ms=3,
        active_ms=2,
    )
    sql.insert(read)
    assert _fields(Read.objects.get(pk=read.pk)) == _fields(read)

    gone = Assignment(pk=uuid.uuid4())
    with pytest.raises(DatabaseError):
        sql.update(gone, ["active_ms"])

    # With a receiver on the model's save signals, the ORM's save runs (and sends them).
    heard: list[Any] = []

    def receiver(sender: Any, instance: Any, **kwargs: Any) -> None:
        heard.append(instance)

    signals.post_save.connect(receiver, sender=Assignment)
    try:
        sql.update(assignment, ["active_ms"])
    finally:
        signals.post_save.disconnect(receiver, sender=Assignment)
    assert heard == [assignment]
