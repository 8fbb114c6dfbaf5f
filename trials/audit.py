"""The hash-chained audit trail: one writer, one verifier."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from trials.models import AuditEvent, Study

GENESIS_HASH = "0" * 64
#: Advisory-lock key that serialises appends to the chain on PostgreSQL.
_CHAIN_LOCK_KEY = 0x464F4E54  # "FONT"


def _canonical(value: Any) -> Any:
    """JSON-ready form of a value, stable across runs (UUIDs and dates as strings)."""
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def event_hash(
    *,
    prev_hash: str,
    created: str,
    actor_id: Any,
    study_id: Any,
    action: str,
    target_type: str,
    target_id: str,
    before: Any,
    after: Any,
    reason: str,
) -> str:
    """SHA-256 of a row's content and its predecessor's hash."""
    payload = json.dumps(
        {
            "prev": prev_hash,
            "created": created,
            "actor": str(actor_id) if actor_id is not None else None,
            "study": str(study_id) if study_id is not None else None,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "before": before,
            "after": after,
            "reason": reason,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _target_study_id(target: models.Model | None) -> Any:
    if target is None:
        return None
    if isinstance(target, Study):
        return target.pk
    study_id = getattr(target, "study_id", None)
    if study_id is None and hasattr(target, "case"):
        study_id = target.case.study_id
    return study_id


def audit_record(
    *,
    actor: Any,
    action: str,
    target: models.Model | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
    study: Study | None = None,
) -> AuditEvent:
    """Append an audit row; must run inside the transaction that makes the change."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction of the change it records")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    prev_hash = last or GENESIS_HASH
    created = timezone.now()
    actor_id = getattr(actor, "pk", None)
    study_id = study.pk if study is not None else _target_study_id(target)
    fields = {
        "action": str(action),
        "target_type": target._meta.label_lower if target is not None else "",
        "target_id": str(target.pk) if target is not None else "",
        "before": _canonical(before or {}),
        "after": _canonical(after or {}),
        "reason": reason,
    }
    digest = event_hash(
        prev_hash=prev_hash,
        created=created.isoformat(),
        actor_id=actor_id,
        study_id=study_id,
        **fields,
    )
    return AuditEvent.objects.create(
        created=created,
        actor_id=actor_id,
        study_id=study_id,
        prev_hash=prev_hash,
        hash=digest,
        **fields,
    )


@dataclass(frozen=True)
class ChainVerification:
    """Result of checking the chain: ``first_broken`` is the id of the first bad row."""

    rows: int
    first_broken: int | None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.first_broken is None


def audit_verify() -> ChainVerification:
    """Recompute every row's hash in order; name the first row that does not match."""
    prev_hash = GENESIS_HASH
    rows = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        rows += 1
        if event.prev_hash != prev_hash:
            return ChainVerification(rows, event.id, "its prev_hash does not match the row before")
        expected = event_hash(
            prev_hash=event.prev_hash,
            created=event.created.isoformat(),
            actor_id=event.actor_id,
            study_id=event.study_id,
            action=event.action,
            target_type=event.target_type,
            target_id=event.target_id,
            before=event.before,
            after=event.after,
            reason=event.reason,
        )
        if expected != event.hash:
            return ChainVerification(rows, event.id, "its content does not match its hash")
        prev_hash = event.hash
    return ChainVerification(rows, None)
