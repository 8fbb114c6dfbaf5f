"""The reading API's per-request statements, written once (see :mod:`config.statements`).

Five statements run on every serve and every submission: finding the reader's session
or case (with his active reader membership), locking the session's next unanswered case,
finding a case's own media, and locking a case to answer it. Each returns exactly what
the queryset it replaces returned (``tests/readers/test_statements.py`` compares them
on the test database), without compiling that queryset on every request.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection

from config.statements import Row, column, fetch, fetch_all, for_update, prep, table
from readers.models import Assignment, Read, ReadingSession
from trials.models import (
    Asset,
    Membership,
    Rendition,
    RenditionPurpose,
    RenditionStatus,
    Role,
    Study,
)

_ASSIGNMENT = Row(Assignment, "a")
# The stored case order (every case id of the session) is never read on the hot path;
# reading it later costs a query, as after QuerySet.defer.
_SESSION = Row(ReadingSession, "s", exclude=("case_order",))
_STUDY = Row(Study, "st")
_READ = Row(Read, "r")
_RENDITION = Row(Rendition, "rn")


def _reading_membership() -> str:
    """SQL: the reader (``%s``: his id) has an active reader membership of ``s``'s study."""
    m = "m"
    return (
        f"EXISTS (SELECT 1 FROM {table(connection, Membership)} {m}"
        f" WHERE {column(connection, Membership, 'study', m)}"
        f" = {column(connection, ReadingSession, 'study', 's')}"
        f" AND {column(connection, Membership, 'user', m)} = %s"
        f" AND {column(connection, Membership, 'role', m)} = '{Role.READER.value}'"
        f" AND {column(connection, Membership, 'ended_at', m)} IS NULL)"
    )


def _session_join() -> str:
    return (
        f" JOIN {table(connection, Study)} st"
        f" ON {column(connection, Study, 'id', 'st')}"
        f" = {column(connection, ReadingSession, 'study', 's')}"
    )


@functools.cache
def _reader_session_sql(vendor: str) -> str:
    return (
        f"SELECT {_SESSION.select(connection)}, {_STUDY.select(connection)}"
        f" FROM {table(connection, ReadingSession)} s{_session_join()}"
        f" WHERE {column(connection, ReadingSession, 'id', 's')} = %s"
        f" AND {column(connection, ReadingSession, 'reader', 's')} = %s"
        f" AND {_reading_membership()}"
    )


def reader_session(user_id: Any, session_id: Any) -> ReadingSession | None:
    """``session_id`` with its study if it is the reader's and he reads in its study now."""
    try:
        key = prep(ReadingSession, "id", session_id, connection)
    except (ValidationError, ValueError, TypeError):
        return None
    found = fetch(
        _reader_session_sql(connection.vendor),
        [key, user_id, user_id],
        [_SESSION, _STUDY],
    )
    if found is None:
        return None
    (session, study), _extra = found
    session.study = study  # type: ignore[attr-defined]
    return session  # type: ignore[return-value]


@functools.cache
def _reader_assignment_sql(vendor: str) -> str:
    return (
        f"SELECT {_ASSIGNMENT.select(connection)}, {_SESSION.select(connection)},"
        f" {_STUDY.select(connection)}"
        f" FROM {table(connection, Assignment)} a"
        f" JOIN {table(connection, ReadingSession)} s"
        f" ON {column(connection, ReadingSession, 'id', 's')}"
        f" = {column(connection, Assignment, 'session', 'a')}{_session_join()}"
        f" WHERE {column(connection, Assignment, 'token', 'a')} = %s"
        f" AND {column(connection, ReadingSession, 'reader', 's')} = %s"
        f" AND {_reading_membership()}"
    )


def reader_assignment(user_id: Any, token: str) -> Assignment | None:
    """The case behind ``token``, with its session and study, if it is the reader's and he
    reads in its study now."""
    found = fetch(
        _reader_assignment_sql(connection.vendor),
        [token, user_id, user_id],
        [_ASSIGNMENT, _SESSION, _STUDY],
    )
    if found is None:
        return None
    (assignment, session, study), _extra = found
    session.study = study  # type: ignore[attr-defined]
    assignment.session = session  # type: ignore[attr-defined]
    return assignment  # type: ignore[return-value]


@functools.cache
def _next_unanswered_sql(vendor: str) -> str:
    other = "t"
    return (
        f"SELECT {_ASSIGNMENT.select(connection)},"
        f" (SELECT COUNT(*) FROM {table(connection, Assignment)} {other}"
        f" WHERE {column(connection, Assignment, 'session', other)}"
        f" = {column(connection, Assignment, 'session', 'a')})"
        f" FROM {table(connection, Assignment)} a"
        f" WHERE {column(connection, Assignment, 'session', 'a')} = %s"
        f" AND {column(connection, Assignment, 'answered_at', 'a')} IS NULL"
        f" ORDER BY {column(connection, Assignment, 'position', 'a')} LIMIT 1"
        f"{for_update(connection, 'a')}"
    )


def next_unanswered_locked(session: ReadingSession) -> Assignment | None:
    """The session's first unanswered case under its row lock, with ``session_total``
    (the session's number of cases); inside a transaction."""
    found = fetch(
        _next_unanswered_sql(connection.vendor),
        [prep(Assignment, "session", session.pk, connection)],
        [_ASSIGNMENT],
    )
    if found is None:
        return None
    (assignment,), (total,) = found
    assignment.session_total = int(total)  # type: ignore[attr-defined]
    return assignment  # type: ignore[return-value]


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))  # SQLite keeps UUIDs as hex text


@functools.cache
def _locked_for_answer_sql(vendor: str) -> str:
    other, earlier = "o", "e"
    return (
        f"SELECT {_ASSIGNMENT.select(connection)}, {_READ.select(connection)},"
        f" (SELECT {column(connection, Read, 'assignment', earlier)}"
        f" FROM {table(connection, Read)} {earlier}"
        f" WHERE {column(connection, Read, 'client_event_id', earlier)} = %s LIMIT 1),"
        f" EXISTS (SELECT 1 FROM {table(connection, Assignment)} {other}"
        f" WHERE {column(connection, Assignment, 'session', other)}"
        f" = {column(connection, Assignment, 'session', 'a')}"
        f" AND {column(connection, Assignment, 'answered_at', other)} IS NULL"
        f" AND {column(connection, Assignment, 'id', other)}"
        f" <> {column(connection, Assignment, 'id', 'a')})"
        f" FROM {table(connection, Assignment)} a"
        f" LEFT JOIN {table(connection, Read)} r"
        f" ON {column(connection, Read, 'assignment', 'r')}"
        f" = {column(connection, Assignment, 'id', 'a')}"
        f" WHERE {column(connection, Assignment, 'id', 'a')} = %s{for_update(connection, 'a')}"
    )


def assignment_locked_for_answer(pk: Any, client_event_id: uuid.UUID) -> Assignment:
    """The case under its row lock with its read joined (``read``), the case that
    ``client_event_id`` already answered (``event_assignment_id``) and whether another case
    of its session is unanswered (``others_unanswered``); inside a transaction."""
    found = fetch(
        _locked_for_answer_sql(connection.vendor),
        [
            prep(Read, "client_event_id", client_event_id, connection),
            prep(Assignment, "id", pk, connection),
        ],
        [_ASSIGNMENT, _READ],
    )
    if found is None:
        raise Assignment.DoesNotExist
    (assignment, read), (event_assignment_id, others_unanswered) = found
    answered = read if read.pk is not None else None
    Assignment.read.related.set_cached_value(assignment, answered)  # type: ignore[attr-defined]
    if answered is not None:
        Read.assignment.field.set_cached_value(answered, assignment)
    assignment.event_assignment_id = _uuid(event_assignment_id)  # type: ignore[attr-defined]
    assignment.others_unanswered = bool(others_unanswered)  # type: ignore[attr-defined]
    return assignment  # type: ignore[return-value]


@functools.cache
def _case_media_sql(vendor: str) -> str:
    asset = "x"
    return (
        f"SELECT {_RENDITION.select(connection)} FROM {table(connection, Rendition)} rn"
        f" JOIN {table(connection, Asset)} {asset}"
        f" ON {column(connection, Asset, 'id', asset)}"
        f" = {column(connection, Rendition, 'asset', 'rn')}"
        f" WHERE {column(connection, Rendition, 'status', 'rn')} = '{RenditionStatus.READY.value}'"
        f" AND {column(connection, Rendition, 'purpose', 'rn')}"
        f" = '{RenditionPurpose.CASE_MEDIA.value}'"
        f" AND {column(connection, Rendition, 'case', 'rn')} = %s"
        f" AND {column(connection, Asset, 'case', asset)} = %s"
        f" AND {column(connection, Asset, 'created', asset)} <= %s"
        f" ORDER BY {column(connection, Rendition, 'case', 'rn')},"
        f" {column(connection, Rendition, 'kind', 'rn')},"
        f" {column(connection, Rendition, 'orientation', 'rn')},"
        f" {column(connection, Rendition, 'view', 'rn')}"
    )


def case_media(case_id: Any, uploaded_by: Any) -> list[Rendition]:
    """The ready renditions of the case's own uploaded assets, uploaded by ``uploaded_by``
    (a time), in ``Rendition``'s order: what ``readers.selectors`` shows as the case."""
    key = prep(Rendition, "case", case_id, connection)
    params = [key, key, prep(Asset, "created", uploaded_by, connection)]
    return fetch_all(_case_media_sql(connection.vendor), params, _RENDITION)  # type: ignore[return-value]
