"""Writes of the readers app: enrolment, sessions, serving, drafts, reads and timing.

Phase-specific behaviour (what a phase shows, when it opens, its extra answer fields)
lives in :mod:`readers.phases`; these services ask it through :func:`phase_rules`, so a
later design only registers its rules (``phase_rules_register``) and reuses everything
here. Clocks are the server's (``timezone.now``); nothing a client sends is trusted for
timing or for when a session opens.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inference.ncls.labels import Condition, parse_conditions
from readers.models import (
    ActivityEvent,
    ActivityKind,
    Assignment,
    Read,
    ReaderProfile,
    ReadingSession,
)
from readers.phases import (
    DESIGN_PHASES,
    Opening,
    PhaseRules,
    design_phases_register,
    phase_rules,
    phase_rules_register,
)
from trials.audit import audit_record
from trials.models import AuditAction, Dataset, Membership, Role, Study, StudyStatus

__all__ = [
    "ACTIVITY_GAP",
    "AlreadyAnswered",
    "PhaseRules",
    "ReadAnswer",
    "ReadingRefused",
    "activity_record",
    "assignment_serve",
    "design_phases_register",
    "phase_rules_register",
    "read_draft_save",
    "read_revise",
    "read_submit",
    "reader_enrol",
    "session_availability",
    "session_create_for_design",
]

#: The longest silence (no event, no heartbeat) still counted as active time; the page
#: sends a heartbeat every 15 s while visible and in use, so a longer gap means the
#: machine slept, the network dropped or the page died, and the excess is clamped.
ACTIVITY_GAP = timedelta(seconds=45)
_DRAFT_KEYS = {"severe", "confidence", "conditions", "ivh_grade", "comment", "extra"}
_DRAFT_MAX_BYTES = 8192


class ReadingRefused(Exception):
    """The server refuses a reading action (session not open, out of order, ...)."""

    status_code = 403

    def __init__(self, message: str, *, opens_at: datetime | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.opens_at = opens_at


class AlreadyAnswered(ReadingRefused):
    """The case was answered already (a new answer is not a retry of the first)."""

    status_code = 409


@dataclass(frozen=True)
class ReadAnswer:
    """A reader's answer: severe yes/no, confidence 0–100, findings, comment, phase extras."""

    severe: bool
    confidence: int
    conditions: tuple[str, ...] = ()
    ivh_grade: int | None = None
    comment: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def cleaned(self) -> ReadAnswer:
        """The answer validated and normalised; ``ValidationError`` names the bad value."""
        if not isinstance(self.severe, bool):
            raise ValidationError(_("Severe must be yes or no."))
        if isinstance(self.confidence, bool) or not isinstance(self.confidence, int):
            raise ValidationError(_("Confidence must be a whole number from 0 to 100."))
        if not 0 <= self.confidence <= 100:
            raise ValidationError(
                _("Confidence must be from 0 to 100, got %(value)s.") % {"value": self.confidence}
            )
        try:
            found = parse_conditions(self.conditions)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        if self.ivh_grade is not None and self.ivh_grade not in (1, 2, 3, 4):
            raise ValidationError(_("IVH grade must be 1 to 4 (Papile)."))
        if Condition.IVH in found and self.ivh_grade is None:
            raise ValidationError(_("Give the IVH grade."))
        if Condition.IVH not in found and self.ivh_grade is not None:
            raise ValidationError(_("An IVH grade needs IVH among the findings."))
        if len(self.comment) > 2000:
            raise ValidationError(_("The comment is too long (2000 characters at most)."))
        return ReadAnswer(
            severe=self.severe,
            confidence=self.confidence,
            conditions=tuple(sorted(c.value for c in found)),
            ivh_grade=self.ivh_grade,
            comment=self.comment.strip(),
            extra=dict(self.extra),
        )


def _ms(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() * 1000))


# ------------------------------------------------------------------------- enrolment


@transaction.atomic
def reader_enrol(
    *, actor: Any, study: Study, user: Any, tier: str, years_experience: int = 0
) -> ReaderProfile:
    """Give ``user`` the reader role in ``study`` and record his tier and experience."""
    membership, created = Membership.objects.get_or_create(study=study, user=user, role=Role.READER)
    if created:
        audit_record(
            actor=actor,
            action=AuditAction.MEMBERSHIP_ADDED,
            target=membership,
            after={"user": user.get_username(), "role": Role.READER},
        )
    profile = ReaderProfile.objects.filter(user=user).first() or ReaderProfile(user=user)
    before = {"tier": profile.tier, "years_experience": profile.years_experience}
    profile.tier = tier
    profile.years_experience = years_experience
    profile.full_clean()
    profile.save()
    audit_record(
        actor=actor,
        action=AuditAction.READER_ENROLLED,
        target=profile,
        study=study,
        before=before,
        after={"user": user.get_username(), "tier": tier, "years_experience": years_experience},
    )
    return profile


# -------------------------------------------------------------------------- sessions


def case_order_for(case_ids: Iterable[Any], seed: int) -> list[str]:
    """The reproducible random order of ``case_ids`` for ``seed`` (sorted, then shuffled)."""
    order = sorted(str(case_id) for case_id in case_ids)
    random.Random(seed).shuffle(order)
    return order


@transaction.atomic
def session_create_for_design(
    *,
    actor: Any,
    study: Study,
    datasets: Iterable[Dataset] | None = None,
    readers: Iterable[Any] | None = None,
    seed: int | None = None,
) -> list[ReadingSession]:
    """Make every enrolled reader's sessions for the study's design, each in its own order.

    Every reader reads every included case of ``datasets`` (all of the study's when
    None) once per phase of the design. Each session's order comes from its own seed,
    drawn from ``seed`` (or the system's randomness) and stored with the order.
    Idempotent: a reader's existing session for a phase is kept as it is.
    """
    study = Study.objects.select_for_update().get(pk=study.pk)
    if study.status not in (StudyStatus.DRAFT, StudyStatus.OPEN):
        raise ValidationError(_("Sessions can only be created while the study is a draft or open."))
    phases = DESIGN_PHASES.get(study.design)
    if not phases:
        raise ValidationError(_("This study's design has no reading sessions here."))
    chosen = list(datasets) if datasets is not None else list(study.datasets.all())
    if any(dataset.study_id != study.pk for dataset in chosen):
        raise ValidationError(_("A dataset belongs to another study."))
    cases = {
        str(case.pk): case
        for case in study.cases.filter(dataset__in=chosen, excluded=False)
    }
    if not cases:
        raise ValidationError(_("The chosen datasets hold no cases to read."))
    members = Membership.objects.filter(study=study, role=Role.READER)
    reader_users = (
        list(readers) if readers is not None else [m.user for m in members.select_related("user")]
    )
    enrolled = set(members.values_list("user_id", flat=True))
    if any(user.pk not in enrolled for user in reader_users):
        raise ValidationError(_("Only readers enrolled in the study can get sessions."))
    seeds = random.Random(seed if seed is not None else secrets.randbits(62))
    made: list[ReadingSession] = []
    for user in sorted(reader_users, key=lambda u: str(u.pk)):
        for phase in phases:
            session_seed = seeds.getrandbits(62)
            if not phase_rules(phase).takes_reader(study, user):
                continue
            if ReadingSession.objects.filter(study=study, reader=user, phase=phase).exists():
                continue
            session = _session_make(actor=actor, study=study, reader=user, phase=phase,
                                    cases=cases, seed=session_seed)
            if session is not None:
                made.append(session)
    return made


def _session_make(
    *, actor: Any, study: Study, reader: Any, phase: str, cases: dict[str, Any], seed: int
) -> ReadingSession | None:
    rules = phase_rules(phase)
    session = ReadingSession(study=study, reader=reader, phase=phase, order_seed=seed)
    cases = rules.cases_for(session, cases)
    if not cases:
        return None
    order = case_order_for(cases, seed)
    session.case_order = order
    session.full_clean()
    session.save()
    Assignment.objects.bulk_create(
        Assignment(
            session=session,
            position=position,
            case=cases[case_id],
            material_set=rules.material_for(session, cases[case_id]),
        )
        for position, case_id in enumerate(order, start=1)
    )
    audit_record(
        actor=actor,
        action=AuditAction.SESSION_CREATED,
        target=session,
        after={
            "reader": reader.get_username(),
            "phase": phase,
            "seed": seed,
            "cases": len(order),
            "order_sha256": hashlib.sha256(json.dumps(order).encode()).hexdigest(),
        },
    )
    return session


def session_availability(*, session: ReadingSession, now: datetime | None = None) -> Opening:
    """Whether the session can be read now (``Opening()``), or why not and from when."""
    now = now or timezone.now()
    if session.study.status != StudyStatus.OPEN:
        return Opening(None, _("The study is not open for reading."))
    if session.completed_at is not None:
        return Opening(None, _("You have completed this session."))
    opening = phase_rules(session.phase).opening(session)
    if opening.reason:
        return opening
    opens_at = max(filter(None, [opening.at, session.available_from]), default=None)
    if opens_at is not None and now < opens_at:
        return Opening(opens_at, _("This session opens on %(date)s.") % {"date": opens_at.date().isoformat()})
    return Opening()


def _require_open(session: ReadingSession, now: datetime) -> None:
    opening = session_availability(session=session, now=now)
    if opening.reason:
        raise ReadingRefused(opening.reason, opens_at=opening.at)


def session_next_assignment(*, session: ReadingSession) -> Assignment | None:
    """The first unanswered assignment of the session, in its order."""
    return session.assignments.filter(answered_at__isnull=True).order_by("position").first()


# --------------------------------------------------------------------------- serving


def _locked(assignment: Assignment) -> Assignment:
    return (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("session__study", "session__reader")
        .get(pk=assignment.pk)
    )


def _stretch_close(assignment: Assignment, now: datetime) -> None:
    """Add the current active stretch to ``active_ms``, clamping a silent gap."""
    if assignment.active_since is None:
        return
    last_seen = max(assignment.last_seen_at or assignment.active_since, assignment.active_since)
    end = min(now, last_seen + ACTIVITY_GAP)
    assignment.active_ms += _ms(end - assignment.active_since)
    assignment.active_since = None


@transaction.atomic
def assignment_serve(*, reader: Any, assignment: Assignment) -> Assignment:
    """Open a case for its reader: record the first serve and start an active stretch.

    Refused when the session is not open (the aided session before its washout, whatever
    the client asks), when the case is not the reader's next one, or when it was answered
    and the study does not allow revisits.
    """
    now = timezone.now()
    assignment = _locked(assignment)
    session = assignment.session
    if session.reader_id != reader.pk:
        raise ReadingRefused(_("This case is not assigned to you."))
    if assignment.answered_at is not None:
        if not session.study.allow_revisits:
            raise AlreadyAnswered(_("You have answered this case; this study does not allow revisits."))
        return assignment
    _require_open(session, now)
    following = session_next_assignment(session=session)
    if following is None or following.pk != assignment.pk:
        raise ReadingRefused(_("Cases are read in the order of your session."))
    rules = phase_rules(session.phase)
    changed = ["active_since", "last_seen_at", "modified"]
    if assignment.material_set_id is None:
        material = rules.material_for(session, assignment.case)
        if material is not None:
            assignment.material_set = material
            changed.append("material_set")
    if assignment.served_at is None:
        assignment.served_at = now
        changed.append("served_at")
        # Not audited on its own: served_at is part of the read's audit row, and a second
        # row per case would double the load on the audit chain's lock.
        if session.started_at is None:
            session.started_at = now
            session.save(update_fields=["started_at", "modified"])
    if assignment.active_since is None:
        assignment.active_since = now
    assignment.last_seen_at = now
    assignment.save(update_fields=changed)
    ActivityEvent.objects.create(assignment=assignment, kind=ActivityKind.VISIBLE, received_at=now)
    return assignment


@transaction.atomic
def activity_record(*, reader: Any, assignment: Assignment, kind: str) -> Assignment:
    """Apply a visibility or idle event at the server's time; never beyond wall time.

    ``hidden``/``idle`` close the active stretch, ``visible``/``active`` open one, a
    ``heartbeat`` keeps it alive. A stretch counts at most :data:`ACTIVITY_GAP` past the
    last sign of life, so a page that went silent adds no time.
    """
    if kind not in ActivityKind.values:
        raise ValidationError(_("Unknown activity %(kind)s.") % {"kind": kind})
    now = timezone.now()
    assignment = _locked(assignment)
    if assignment.session.reader_id != reader.pk:
        raise ReadingRefused(_("This case is not assigned to you."))
    if assignment.served_at is None or assignment.answered_at is not None:
        return assignment  # nothing is being timed: late beacons are ignored
    if kind in (ActivityKind.HIDDEN, ActivityKind.IDLE):
        _stretch_close(assignment, now)
    elif assignment.active_since is not None and assignment.last_seen_at is not None and (
        now - assignment.last_seen_at > ACTIVITY_GAP
    ):
        _stretch_close(assignment, now)  # a gap: count up to its clamp, restart now
        assignment.active_since = now
    elif assignment.active_since is None:
        assignment.active_since = now
    assignment.last_seen_at = now
    assignment.save(update_fields=["active_ms", "active_since", "last_seen_at", "modified"])
    ActivityEvent.objects.create(assignment=assignment, kind=kind, received_at=now)
    return assignment


# ----------------------------------------------------------------------------- reads


@transaction.atomic
def read_draft_save(*, reader: Any, assignment: Assignment, draft: dict[str, Any]) -> Assignment:
    """Keep the reader's unfinished answer (autosave); not part of the trial record.

    Drafts are not audited: they change every few seconds and only the submitted answer
    (and its revisions) is trial data.
    """
    if not isinstance(draft, dict):
        raise ValidationError(_("A draft must be an object."))
    kept = {key: value for key, value in draft.items() if key in _DRAFT_KEYS}
    if len(json.dumps(kept, default=str)) > _DRAFT_MAX_BYTES:
        raise ValidationError(_("The draft is too large."))
    assignment = _locked(assignment)
    if assignment.session.reader_id != reader.pk:
        raise ReadingRefused(_("This case is not assigned to you."))
    if assignment.answered_at is not None:
        raise AlreadyAnswered(_("This case has been answered."))
    assignment.draft = kept
    assignment.draft_saved_at = timezone.now()
    assignment.save(update_fields=["draft", "draft_saved_at", "modified"])
    return assignment


def _answer_record(answer: ReadAnswer) -> dict[str, Any]:
    return asdict(answer) | {"conditions": list(answer.conditions)}


@transaction.atomic
def read_submit(
    *, reader: Any, assignment: Assignment, answer: ReadAnswer, client_event_id: UUID
) -> Read:
    """Record a reader's answer once; a repeated submission returns the first read.

    The same ``client_event_id`` always gives back the read it first made (retries,
    double clicks, lost responses), with ``read.replayed`` True. Another answer to an
    answered case is refused.
    """
    existing = Read.objects.filter(client_event_id=client_event_id).first()
    if existing is not None:
        if existing.assignment_id != assignment.pk or existing.reader_id != reader.pk:
            raise AlreadyAnswered(_("This submission id was used for another case."))
        existing.replayed = True
        return existing
    answer = answer.cleaned()
    now = timezone.now()
    assignment = _locked(assignment)
    session = assignment.session
    if session.reader_id != reader.pk:
        raise ReadingRefused(_("This case is not assigned to you."))
    if assignment.answered_at is not None:
        # Re-read under the lock: a concurrent retry may have just committed.
        first = Read.objects.filter(assignment=assignment).first()
        if first is not None and first.client_event_id == client_event_id:
            first.replayed = True
            return first
        raise AlreadyAnswered(_("You have answered this case already."))
    _require_open(session, now)
    if assignment.served_at is None:
        raise ReadingRefused(_("Open the case before answering it."))
    rules = phase_rules(session.phase)
    gate = rules.form_gate(assignment)
    if gate:
        raise ReadingRefused(gate)
    extra = rules.answer_clean(assignment, answer.extra)
    _stretch_close(assignment, now)
    wall_ms = _ms(now - assignment.served_at)
    read = Read(
        assignment=assignment,
        reader=reader,
        client_event_id=client_event_id,
        severe=answer.severe,
        confidence=answer.confidence,
        conditions=list(answer.conditions),
        ivh_grade=answer.ivh_grade,
        comment=answer.comment,
        answer=extra,
        served_at=assignment.served_at,
        answered_at=now,
        wall_ms=wall_ms,
        active_ms=min(assignment.active_ms, wall_ms),
    )
    # Uniqueness is settled under the row lock above and the check constraints are in
    # the database; skipping their per-field queries keeps submission fast.
    read.full_clean(exclude=["assignment", "reader"], validate_unique=False, validate_constraints=False)
    read.save()
    read.replayed = False
    assignment.answered_at = now
    assignment.last_seen_at = now
    assignment.draft = {}
    assignment.save(
        update_fields=["answered_at", "active_ms", "active_since", "last_seen_at", "draft", "modified"]
    )
    completed = not session.assignments.filter(answered_at__isnull=True).exists()
    if completed:
        session.completed_at = now
        session.save(update_fields=["completed_at", "modified"])
        rules.on_completed(session)
    # Audit rows last: the chain's lock is then held only until the commit.
    audit_record(
        actor=reader,
        action=AuditAction.READ_SUBMITTED,
        target=read,
        study=session.study,
        after=_answer_record(answer) | {
            "assignment": assignment.token,
            "served_at": read.served_at.isoformat(),
            "wall_ms": wall_ms,
            "active_ms": read.active_ms,
        },
    )
    if completed:
        audit_record(actor=reader, action=AuditAction.SESSION_COMPLETED, target=session)
    return read


@transaction.atomic
def read_revise(*, reader: Any, read: Read, answer: ReadAnswer, reason: str) -> Read:
    """Change a submitted answer where the study allows revisits; every revision is audited."""
    read = Read.objects.select_for_update().select_related("assignment__session__study").get(pk=read.pk)
    session = read.assignment.session
    if read.reader_id != reader.pk:
        raise ReadingRefused(_("This read is not yours."))
    if not session.study.allow_revisits:
        raise ReadingRefused(_("This study does not allow changing an answer."))
    if session.study.status != StudyStatus.OPEN:
        raise ReadingRefused(_("The study is not open for reading."))
    if not reason.strip():
        raise ValidationError(_("Changing an answer needs a reason."))
    answer = answer.cleaned()
    extra = phase_rules(session.phase).answer_clean(read.assignment, answer.extra)
    before = {
        "severe": read.severe,
        "confidence": read.confidence,
        "conditions": read.conditions,
        "ivh_grade": read.ivh_grade,
        "comment": read.comment,
        "extra": read.answer,
        "revision": read.revision,
    }
    read.severe = answer.severe
    read.confidence = answer.confidence
    read.conditions = list(answer.conditions)
    read.ivh_grade = answer.ivh_grade
    read.comment = answer.comment
    read.answer = extra
    read.revision += 1
    read.full_clean(validate_unique=False)
    read.save()
    audit_record(
        actor=reader,
        action=AuditAction.READ_REVISED,
        target=read,
        study=session.study,
        before=before,
        after=_answer_record(answer) | {"revision": read.revision},
        reason=reason.strip(),
    )
    return read


def phase_of(session: ReadingSession) -> PhaseRules:
    """The rules of a session's phase (re-exported for views)."""
    return phase_rules(session.phase)

