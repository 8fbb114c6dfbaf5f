"""The hash-chained audit trail: one writer, one verifier.

One chain per study. Each row holds the hash of the previous row *of the same study*
(``study`` None is the chain of study-less events), so a study's trail, as the audit API
exports it, can be checked on its own and writes in one study never wait for another's.

Hash format (unchanged since the first, global chain): a row's ``hash`` is the SHA-256,
in lower-case hex, of the compact JSON (``sort_keys``, separators ``,`` and ``:``) of
``{"prev", "created", "actor", "study", "action", "target_type", "target_id", "before",
"after", "reason"}``: ``prev`` is the predecessor's hash (:data:`GENESIS_HASH` for the
first row of a chain), ``created`` the ISO 8601 time, ``actor`` and ``study`` the ids as
strings or null; see :func:`event_hash`.

Databases written before the chains were split keep their single global chain: the
migration that split them closed it with one :data:`CHAIN_SPLIT_ACTION` row. Rows up to
that one are checked as the global chain; each later row links to the newest earlier row
of its study, which may be one of the global chain's.

What the chain proves: no row was changed, inserted or removed in the middle of a chain
(``audit_verify`` names the first row that does not fit). What it cannot prove alone:
that the newest rows of a chain were not removed; keep the heads that
:func:`audit_verify` returns somewhere else to check that too.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from trials.models import AuditAction, AuditEvent, MaterialSet, MaterialSource, Study, StudyStatus

GENESIS_HASH = "0" * 64
#: The action of the row that closed the old global chain (see the module docstring).
CHAIN_SPLIT_ACTION = "audit.chains_split_per_study"
#: First half of the advisory-lock key that serialises appends to one chain on
#: PostgreSQL; the second half comes from the study (:func:`chain_lock_key`).
_CHAIN_LOCK_CLASS = 0x464F4E54  # "FONT"


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


def chain_lock_key(study_id: Any) -> tuple[int, int]:
    """The two-int advisory-lock key of a study's chain (of the study-less chain for None).

    Two studies whose keys collide only wait for each other; their chains stay apart.
    """
    name = (
        "" if study_id is None else str(uuid.UUID(str(study_id)))
    )  # one key per study, however spelt
    digest = hashlib.sha256(f"audit-chain:{name}".encode()).digest()
    return _CHAIN_LOCK_CLASS, int.from_bytes(digest[:4], "big", signed=True)


def _target_study_id(target: models.Model | None) -> Any:
    if target is None:
        return None
    if isinstance(target, Study):
        return target.pk
    study_id = getattr(target, "study_id", None)
    if study_id is None and hasattr(target, "case"):
        study_id = target.case.study_id
    return study_id


def _chain_head(study_id: Any) -> str:
    """The hash of the newest row of the study's chain (index ``trials_auditevent_chain``)."""
    rows = (
        AuditEvent.objects.filter(study_id=study_id)
        if study_id is not None
        else (AuditEvent.objects.filter(study__isnull=True))
    )
    return rows.order_by("-id").values_list("hash", flat=True).first() or GENESIS_HASH


def audit_chain_head(study_id: Any) -> str:
    """The hash of the newest row of a study's chain (what a signature over the study covers)."""
    return _chain_head(study_id)


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
    """Append an audit row to its study's chain; must run inside the transaction of the change.

    On PostgreSQL the chain's advisory lock is held until that transaction ends, so call
    this last in a service: everything after it lengthens the wait of the study's other
    writers.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction of the change it records")
    study_id = study.pk if study is not None else _target_study_id(target)
    fields = {
        "action": str(action),
        "target_type": target._meta.label_lower if target is not None else "",
        "target_id": str(target.pk) if target is not None else "",
        "before": _canonical(before or {}),
        "after": _canonical(after or {}),
        "reason": reason,
    }
    actor_id = getattr(actor, "pk", None)
    if connection.vendor == "postgresql":
        return _append_postgresql(actor_id=actor_id, study_id=study_id, fields=fields)
    prev_hash = _chain_head(study_id)
    created = timezone.now()
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


# The statements run under the chain's lock on PostgreSQL (table trials_auditevent; the
# head's read uses the index trials_auditevent_chain).
_HEAD_SQL = (
    'SELECT "hash" FROM "trials_auditevent" WHERE "study_id" = %s ORDER BY "id" DESC LIMIT 1'
)
_HEAD_SQL_NO_STUDY = (
    'SELECT "hash" FROM "trials_auditevent" WHERE "study_id" IS NULL ORDER BY "id" DESC LIMIT 1'
)
_INSERT_SQL = (
    'INSERT INTO "trials_auditevent" ("created", "actor_id", "study_id", "action", "target_type",'
    ' "target_id", "before", "after", "reason", "prev_hash", "hash")'
    ' VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s) RETURNING "id"'
)


def _append_postgresql(*, actor_id: Any, study_id: Any, fields: dict[str, Any]) -> AuditEvent:
    """Append under the chain's advisory lock, holding it as briefly as the chain allows.

    Everything that does not depend on the chain's head (the key, the JSON text of the
    content, the statements) is ready before the lock; under it run only the head's
    read, one hash and the insert (plain SQL: no ORM to compile while others wait), and
    the lock ends with the caller's commit. The head is read by a statement of its own
    after the lock is granted, so its snapshot sees the previous holder's commit.
    """
    study = None if study_id is None else uuid.UUID(str(study_id))
    key = list(chain_lock_key(study_id))
    before_text = json.dumps(fields["before"], sort_keys=True)
    after_text = json.dumps(fields["after"], sort_keys=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", key)
        if study is None:
            cursor.execute(_HEAD_SQL_NO_STUDY)
        else:
            cursor.execute(_HEAD_SQL, [study])
        row = cursor.fetchone()
        prev_hash = row[0] if row else GENESIS_HASH
        created = timezone.now()
        digest = event_hash(
            prev_hash=prev_hash,
            created=created.isoformat(),
            actor_id=actor_id,
            study_id=study_id,
            **fields,
        )
        cursor.execute(
            _INSERT_SQL,
            [
                created,
                actor_id,
                study,
                fields["action"],
                fields["target_type"],
                fields["target_id"],
                before_text,
                after_text,
                fields["reason"],
                prev_hash,
                digest,
            ],
        )
        event_id = cursor.fetchone()[0]
    event = AuditEvent(
        id=event_id,
        created=created,
        actor_id=actor_id,
        study_id=study,
        prev_hash=prev_hash,
        hash=digest,
        **fields,
    )
    event._state.adding = False
    event._state.db = connection.alias
    return event


@dataclass(frozen=True)
class ChainVerification:
    """Result of checking the chains: ``first_broken`` is the id of the first bad row.

    ``heads`` maps each chain (a study id as a string, ``""`` for study-less events) to
    the hash of its newest row.
    """

    rows: int
    first_broken: int | None
    problem: str = ""
    heads: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.first_broken is None

    @property
    def chains(self) -> int:
        return len(self.heads or {})


def _expected_hash(event: AuditEvent) -> str:
    return event_hash(
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


def _verify_rows(events: Iterable[AuditEvent], split_id: int | None) -> ChainVerification:
    # Rows up to the split row (if any) link to the row before them, whatever its study
    # (the old global chain); every later row links to the newest earlier row of its own
    # study, as audit_record wrote it.
    global_head = GENESIS_HASH
    heads: dict[str, str] = {}
    rows = 0
    for event in events:
        rows += 1
        chain = "" if event.study_id is None else str(event.study_id)
        in_global_chain = split_id is not None and event.id <= split_id
        expected_prev = global_head if in_global_chain else heads.get(chain, GENESIS_HASH)
        if event.prev_hash != expected_prev:
            return ChainVerification(
                rows, event.id, "its prev_hash does not match the row before it in its chain"
            )
        if _expected_hash(event) != event.hash:
            return ChainVerification(rows, event.id, "its content does not match its hash")
        global_head = event.hash
        heads[chain] = event.hash
    return ChainVerification(rows, None, heads=heads)


def audit_verify() -> ChainVerification:
    """Recompute every row's hash, chain by chain; name the first row that does not match."""
    split_id = (
        AuditEvent.objects.filter(action=CHAIN_SPLIT_ACTION, study__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
    return _verify_rows(AuditEvent.objects.order_by("id").iterator(chunk_size=2000), split_id)


def audit_chains_split(*, event_model: type[models.Model] = AuditEvent) -> Any:
    """Close an existing global chain with a :data:`CHAIN_SPLIT_ACTION` row (once).

    Run by the migration that introduced per-study chains; a database with no audit rows
    needs no split row (its chains start at genesis). ``event_model`` lets the migration
    pass its historical model.
    """
    rows = event_model.objects.all()  # type: ignore[attr-defined]
    if not rows.exists() or rows.filter(action=CHAIN_SPLIT_ACTION).exists():
        return None
    last = rows.order_by("-id").first()
    created = timezone.now()
    fields: dict[str, Any] = {
        "action": CHAIN_SPLIT_ACTION,
        "target_type": "",
        "target_id": "",
        "before": {},
        "after": {"global_chain_rows": rows.count(), "global_chain_last_id": last.id},
        "reason": "From here on each study has its own hash chain.",
    }
    digest = event_hash(
        prev_hash=last.hash, created=created.isoformat(), actor_id=None, study_id=None, **fields
    )
    return rows.create(
        created=created, actor_id=None, study_id=None, prev_hash=last.hash, hash=digest, **fields
    )


#: Actions whose rows hold what a reader answered: his read, its revisions, his source
#: guess, a junior's prepared material (views and initial diagnosis).
ANSWER_ACTIONS: frozenset[str] = frozenset(
    {
        AuditAction.READ_SUBMITTED,
        AuditAction.READ_REVISED,
        AuditAction.SOURCE_GUESSED,
        AuditAction.MATERIAL_CREATED,
    }
)
#: Keys of those rows that tell nothing of the answer (kept in a redacted row).
_ANSWER_NEUTRAL_KEYS = frozenset(
    {
        "assignment",
        "served_at",
        "wall_ms",
        "active_ms",
        "revision",
        "guessed_at",
        "source",
        "author",
        "model_version",
    }
)


@dataclass(frozen=True)
class RedactedContent:
    """What of an audit row may be shown before the study is locked."""

    before: dict[str, Any]
    after: dict[str, Any]
    reason: str
    redacted: bool


def audit_event_redacted(event: AuditEvent) -> RedactedContent:
    """The row's content without the reader's answer or source guess.

    Until a study is locked, nobody (coordinators included) may see readers' answers or
    guesses: the audit API shows the row, its time, actor, target and hashes, and only
    the keys in :data:`_ANSWER_NEUTRAL_KEYS`. A redacted row cannot be re-hashed by the
    one who reads it; it verifies once the study is locked and the API shows it whole.
    The AI's own material (source "ai") is not an answer and stays whole.
    """
    is_answer = event.action in ANSWER_ACTIONS and not (
        event.action == AuditAction.MATERIAL_CREATED and (event.after or {}).get("source") == "ai"
    )
    if not is_answer:
        return RedactedContent(event.before, event.after, event.reason, redacted=False)

    def neutral(content: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in (content or {}).items() if key in _ANSWER_NEUTRAL_KEYS}

    return RedactedContent(neutral(event.before), neutral(event.after), "", redacted=True)


def answers_hidden(study: Study) -> bool:
    """Whether readers' answers in the study are hidden from everyone: until it is locked."""
    return study.status not in (StudyStatus.LOCKED, StudyStatus.UNBLINDED)


def material_set_redacted(material_set: MaterialSet, *, study: Study) -> bool:
    """Whether a material set's diagnosis and views are hidden, by the audit trail's rule.

    A junior's (or sonographer's) prepared material is his answer, as its ``material.created``
    row is (:func:`audit_event_redacted`): hidden until the lock. The AI's stays whole.
    """
    return material_set.source != MaterialSource.AI and answers_hidden(study)
