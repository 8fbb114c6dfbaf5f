"""The hash-chained audit trail and ``manage.py verify_audit``."""

from __future__ import annotations

import itertools
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from trials import services
from trials.audit import GENESIS_HASH, audit_record, audit_verify
from trials.models import AuditAction, AuditEvent, Study, StudyDesign

pytestmark = pytest.mark.django_db

TRIGGER = "trials_auditevent_no_change"


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


def test_verify_audit_passes_on_a_clean_database(coordinator: Any) -> None:
    out = StringIO()
    call_command("verify_audit", stdout=out)  # empty chain
    _some_history(coordinator)
    call_command("verify_audit", stdout=out)
    assert "audit chain intact: 4 rows" in out.getvalue()


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


def _tamper(row_id: int) -> None:
    """Change a row behind the application's back (raw SQL)."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE trials_auditevent SET reason = %s WHERE id = %s", ["rewritten", row_id])


def _assert_names_the_row(row_id: int) -> None:
    result = audit_verify()
    assert result.first_broken == row_id and not result.ok
    with pytest.raises(CommandError, match=f"broken at row {row_id}"):
        call_command("verify_audit", stdout=StringIO())


@pytest.mark.skipif(connection.vendor == "postgresql", reason="PostgreSQL refuses the UPDATE (tested below)")
def test_verify_audit_names_a_row_altered_behind_the_applications_back(coordinator: Any) -> None:
    _some_history(coordinator)
    target = AuditEvent.objects.order_by("id")[2].id
    _tamper(target)
    _assert_names_the_row(target)


def test_verify_audit_names_a_removed_row(coordinator: Any) -> None:
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL refuses the DELETE (tested below)")
    _some_history(coordinator)
    ids = list(AuditEvent.objects.order_by("id").values_list("id", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM trials_auditevent WHERE id = %s", [ids[1]])
    _assert_names_the_row(ids[2])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only")
def test_postgresql_refuses_update_and_delete(coordinator: Any) -> None:
    _some_history(coordinator)
    row = AuditEvent.objects.order_by("id").first()
    assert row is not None
    for statement in (
        "UPDATE trials_auditevent SET reason = 'rewritten' WHERE id = %s",
        "DELETE FROM trials_auditevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [row.id])
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=row.pk).update(reason="orm")
    assert audit_verify().ok


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only")
def test_postgresql_verify_audit_names_a_row_altered_with_the_trigger_disabled(coordinator: Any) -> None:
    _some_history(coordinator)
    target = AuditEvent.objects.order_by("id")[1].id
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE trials_auditevent DISABLE TRIGGER {TRIGGER}")
    try:
        _tamper(target)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE trials_auditevent ENABLE TRIGGER {TRIGGER}")
    _assert_names_the_row(target)
