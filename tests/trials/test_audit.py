"""The hash-chained audit trail (one chain per study) and ``manage.py verify_audit``."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, OperationalError, connection, connections, transaction
from django.utils import timezone

from tests.conftest import skip_or_fail
from trials import services
from trials.audit import (
    CHAIN_SPLIT_ACTION,
    GENESIS_HASH,
    audit_chains_split,
    audit_record,
    audit_verify,
    event_hash,
)
from trials.models import AuditAction, AuditEvent, Study, StudyDesign

pytestmark = pytest.mark.django_db

TRIGGER = "trials_auditevent_no_change"


@pytest.fixture
def postgresql_only() -> None:
    """The chain lock and the append-only trigger exist on PostgreSQL only: skipped on the
    embedded SQLite, a failure in CI (FONTANELLE_REQUIRE_SERVICES), which runs PostgreSQL."""
    if connection.vendor != "postgresql":
        skip_or_fail(f"needs PostgreSQL (the database is {connection.vendor})")


def _some_history(coordinator: Any) -> Study:
    study = services.study_create(actor=coordinator, title="Audited", design=StudyDesign.STANDALONE)
    services.site_create(actor=coordinator, study=study, name="Hospital A")
    services.study_transition(actor=coordinator, study=study, to="open")
    return study


def test_chain_links_every_row(coordinator: Any) -> None:
    _some_history(coordinator)
    events = list(AuditEvent.objects.order_by("id"))
    assert len(events) == 4
    assert events[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    assert events[-1].before == {"status": "draft"} and events[-1].after == {"status": "open"}
    assert events[-1].actor_id == coordinator.pk


def _interleaved_history(coordinator: Any) -> tuple[Study, Study]:
    first = services.study_create(actor=coordinator, title="First", design=StudyDesign.STANDALONE)
    second = services.study_create(actor=coordinator, title="Second", design=StudyDesign.STANDALONE)
    for index in range(2):
        services.site_create(actor=coordinator, study=first, name=f"First {index}")
        services.site_create(actor=coordinator, study=second, name=f"Second {index}")
    with transaction.atomic():
        audit_record(actor=coordinator, action=AuditAction.STUDY_UPDATED, target=None)  # no study
    services.study_transition(actor=coordinator, study=first, to="open")
    return first, second


def test_each_study_has_its_own_chain(coordinator: Any) -> None:
    first, second = _interleaved_history(coordinator)
    for study in (first, second):
        events = list(AuditEvent.objects.filter(study=study).order_by("id"))
        assert len(events) >= 4
        assert events[0].prev_hash == GENESIS_HASH
        for before, after in itertools.pairwise(events):
            assert after.prev_hash == before.hash
    studyless = AuditEvent.objects.get(study__isnull=True)
    assert studyless.prev_hash == GENESIS_HASH
    result = audit_verify()
    assert result.ok and result.rows == AuditEvent.objects.count() and result.chains == 3
    assert result.heads is not None
    assert (
        result.heads[str(first.pk)]
        == AuditEvent.objects.filter(study=first)
        .order_by("id")
        .values_list("hash", flat=True)
        .last()
    )


def test_verify_audit_passes_on_a_clean_database(coordinator: Any) -> None:
    out = StringIO()
    call_command("verify_audit", stdout=out)  # empty chain
    _some_history(coordinator)
    out = StringIO()
    call_command("verify_audit", stdout=out)
    text = out.getvalue()
    assert "audit chains intact: 4 rows in" in text
    newest = AuditEvent.objects.order_by("-id").first()
    assert newest is not None and newest.hash in text  # each chain's head, to keep elsewhere


def test_audit_row_shares_the_transaction_of_the_change(coordinator: Any) -> None:
    before = AuditEvent.objects.count()
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        services.study_create(actor=coordinator, title="Doomed", design=StudyDesign.STANDALONE)
        _ = 1 / 0
    assert AuditEvent.objects.count() == before
    assert not Study.objects.filter(title="Doomed").exists()


@pytest.mark.django_db(transaction=True)
def test_audit_record_refuses_to_run_outside_a_transaction(coordinator: Any) -> None:
    with pytest.raises(RuntimeError):
        audit_record(actor=coordinator, action=AuditAction.STUDY_UPDATED, target=None)


@contextmanager
def _append_only_trigger_disabled() -> Iterator[None]:
    """Let raw SQL change the trail, as someone with the database's owner rights could.

    PostgreSQL's append-only trigger refuses UPDATE and DELETE; the tamper tests disable
    it for the change, so they run on PostgreSQL (CI) as well as on SQLite (no trigger).
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE trials_auditevent DISABLE TRIGGER {TRIGGER}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE trials_auditevent ENABLE TRIGGER {TRIGGER}")


def _tamper(row_id: int) -> None:
    """Change a row behind the application's back (raw SQL)."""
    with _append_only_trigger_disabled(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE trials_auditevent SET reason = %s WHERE id = %s", ["rewritten", row_id]
        )


def _remove(row_id: int) -> None:
    """Delete a row behind the application's back (raw SQL)."""
    with _append_only_trigger_disabled(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM trials_auditevent WHERE id = %s", [row_id])


def _assert_names_the_row(row_id: int) -> None:
    result = audit_verify()
    assert result.first_broken == row_id and not result.ok
    with pytest.raises(CommandError, match=f"broken at row {row_id}"):
        call_command("verify_audit", stdout=StringIO())


def test_verify_audit_names_a_row_altered_behind_the_applications_back(coordinator: Any) -> None:
    _some_history(coordinator)
    target = AuditEvent.objects.order_by("id")[2].id
    _tamper(target)
    _assert_names_the_row(target)


def test_verify_audit_names_a_removed_row(coordinator: Any) -> None:
    _some_history(coordinator)
    ids = list(AuditEvent.objects.order_by("id").values_list("id", flat=True))
    _remove(ids[1])
    _assert_names_the_row(ids[2])


def test_verify_audit_names_an_altered_row_among_other_studies_rows(coordinator: Any) -> None:
    first, _second = _interleaved_history(coordinator)
    target = AuditEvent.objects.filter(study=first).order_by("id")[1].id
    _tamper(target)
    _assert_names_the_row(target)


def test_verify_audit_names_the_row_after_one_removed_from_its_study_chain(
    coordinator: Any,
) -> None:
    first, _second = _interleaved_history(coordinator)
    ids = list(AuditEvent.objects.filter(study=first).order_by("id").values_list("id", flat=True))
    _remove(ids[1])
    _assert_names_the_row(ids[2])  # the next row of the same study, not the next row overall


def _global_chain_row(prev_hash: str, study: Study | None, action: str) -> AuditEvent:
    """A row as the old writer made it: linked to the row before it, whatever its study."""
    created = timezone.now()
    fields: dict[str, Any] = {
        "action": action,
        "target_type": "",
        "target_id": "",
        "before": {},
        "after": {},
        "reason": "",
    }
    digest = event_hash(
        prev_hash=prev_hash,
        created=created.isoformat(),
        actor_id=None,
        study_id=study.pk if study else None,
        **fields,
    )
    return AuditEvent.objects.create(
        created=created, study=study, prev_hash=prev_hash, hash=digest, **fields
    )


def test_a_database_of_the_old_global_chain_still_verifies_after_the_split(
    coordinator: Any,
) -> None:
    assert audit_chains_split() is None  # nothing to close on an empty trail
    first = Study.objects.create(title="Legacy one", design=StudyDesign.STANDALONE)
    second = Study.objects.create(title="Legacy two", design=StudyDesign.STANDALONE)
    prev = GENESIS_HASH
    legacy = []
    for study in (first, second, first, None, second):
        legacy.append(_global_chain_row(prev, study, "legacy.row"))
        prev = legacy[-1].hash
    assert not audit_verify().ok  # the old global links do not form per-study chains
    split = audit_chains_split()
    assert (
        split is not None
        and split.action == CHAIN_SPLIT_ACTION
        and split.prev_hash == legacy[-1].hash
    )
    assert audit_chains_split() is None  # once
    with transaction.atomic():
        after_first = audit_record(
            actor=coordinator, action=AuditAction.STUDY_UPDATED, target=first
        )
        after_none = audit_record(actor=coordinator, action=AuditAction.STUDY_UPDATED, target=None)
    assert after_first.prev_hash == legacy[2].hash  # the newest earlier row of its study
    assert after_none.prev_hash == split.hash  # the split row is the newest study-less row
    result = audit_verify()
    assert result.ok and result.rows == len(legacy) + 3


def test_an_altered_row_of_the_old_global_chain_is_still_named(coordinator: Any) -> None:
    study = Study.objects.create(title="Legacy", design=StudyDesign.STANDALONE)
    rows = [_global_chain_row(GENESIS_HASH, study, "legacy.row")]
    rows.append(_global_chain_row(rows[-1].hash, None, "legacy.row"))
    audit_chains_split()
    _tamper(rows[1].id)
    _assert_names_the_row(rows[1].id)


@pytest.mark.usefixtures("postgresql_only")
@pytest.mark.django_db(transaction=True)
def test_writes_wait_for_their_own_studys_chain_only(coordinator: Any) -> None:
    busy = services.study_create(actor=coordinator, title="Busy", design=StudyDesign.STANDALONE)
    other = services.study_create(actor=coordinator, title="Other", design=StudyDesign.STANDALONE)
    holding, release = threading.Event(), threading.Event()

    def hold_busy_chain() -> None:
        try:
            with transaction.atomic():
                audit_record(actor=coordinator, action=AuditAction.STUDY_UPDATED, target=busy)
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_busy_chain)
    holder.start()
    try:
        assert holding.wait(10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '1s'")
            audit_record(actor=coordinator, action=AuditAction.STUDY_UPDATED, target=other)
        with pytest.raises(OperationalError, match="lock timeout"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '200ms'")
            audit_record(actor=coordinator, action=AuditAction.STUDY_UPDATED, target=busy)
    finally:
        release.set()
        holder.join(10)
    assert audit_verify().ok


@pytest.mark.usefixtures("postgresql_only")
def test_postgresql_refuses_update_and_delete(coordinator: Any) -> None:
    _some_history(coordinator)
    row = AuditEvent.objects.order_by("id").first()
    assert row is not None
    for statement in (
        "UPDATE trials_auditevent SET reason = 'rewritten' WHERE id = %s",
        "DELETE FROM trials_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [row.id])
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=row.pk).update(reason="orm")
    assert audit_verify().ok


@pytest.mark.usefixtures("postgresql_only")
def test_postgresql_verify_audit_names_a_row_altered_with_the_trigger_disabled(
    coordinator: Any,
) -> None:
    _some_history(coordinator)
    target = AuditEvent.objects.order_by("id")[1].id
    _tamper(target)
    _assert_names_the_row(target)
    # The trigger is back on after the tamper: the trail is append-only again.
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM trials_auditevent WHERE id = %s", [target])
