"""Answers: their validation, the idempotent submission and audited revisions."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config import statements as sql
from core.labels import Condition, parse_conditions
from readers import statements
from readers.models import Assignment, Read, ReadingSession, SessionPhase
from readers.phases import PhaseRules, phase_rules
from readers.services.refusals import AlreadyAnswered, ReadingRefused
from readers.services.serving import ms, stretch_close
from readers.services.sessions import session_require_open
from readers.tool_use import tool_use_clean
from trials.audit import audit_record
from trials.models import AuditAction, StudyStatus


@dataclass(frozen=True)
class ReadAnswer:
    """A reader's answer: severe yes/no, confidence 0–100, findings, comment, phase extras,
    and the probability-of-severe ``rating`` 0–100 where the study collects it."""

    severe: bool
    confidence: int
    conditions: tuple[str, ...] = ()
    ivh_grade: int | None = None
    comment: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    rating: int | None = None

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
        if self.rating is not None:
            if isinstance(self.rating, bool) or not isinstance(self.rating, int):
                raise ValidationError(_("The rating must be a whole number from 0 to 100."))
            if not 0 <= self.rating <= 100:
                raise ValidationError(
                    _("The rating must be from 0 to 100, got %(value)s.") % {"value": self.rating}
                )
        if len(self.comment) > 2000:
            raise ValidationError(_("The comment is too long (2000 characters at most)."))
        return ReadAnswer(
            severe=self.severe,
            confidence=self.confidence,
            conditions=tuple(sorted(c.value for c in found)),
            ivh_grade=self.ivh_grade,
            comment=self.comment.strip(),
            extra=dict(self.extra),
            rating=self.rating,
        )


#: Phases whose answer is no diagnosis (qualitative scores, material preparation): no rating.
_NO_DIAGNOSIS_PHASES = (SessionPhase.QUALITATIVE, SessionPhase.PREPARATION)


def rating_required(session: ReadingSession) -> bool:
    """Whether an answer in ``session`` must carry a rating (and else must carry none).

    The study's setting alone decides, the same for every case and material (AI or
    junior), so the form never differs with the material's source.
    """
    return bool(session.study.collects_rating) and session.phase not in _NO_DIAGNOSIS_PHASES


def _rating_check(answer: ReadAnswer, session: ReadingSession) -> None:
    if rating_required(session):
        if answer.rating is None:
            raise ValidationError(_("Give your probability that the case is severe (0–100)."))
    elif answer.rating is not None:
        raise ValidationError(_("This study collects no probability-of-severe rating."))


def _answer_record(answer: ReadAnswer) -> dict[str, Any]:
    return asdict(answer) | {"conditions": list(answer.conditions)}


def _locked_for_answer(assignment: Assignment, reader: Any, client_event_id: UUID) -> Assignment:
    """The assignment under its row lock, with everything answering it needs, in one query.

    Besides the fresh row (its session and study taken from ``assignment`` when the
    caller fetched them, as :func:`~readers.services.serving.assignment_lock` does), the
    same statement brings its read if it has one (``read``, joined), the assignment that
    ``client_event_id`` already answered if any (``event_assignment_id``), and whether
    any other case of the session is still unanswered (``others_unanswered``): a first
    submission, a replay and a refusal each cost this one statement before their writes.
    """
    cached = Assignment.session.is_cached(assignment) and ReadingSession.study.is_cached(
        assignment.session
    )
    locked = statements.assignment_locked_for_answer(assignment.pk, client_event_id)
    if cached:
        locked.session = assignment.session
    else:
        locked.session = ReadingSession.objects.select_related("study").get(pk=locked.session_id)
    if locked.session.reader_id != reader.pk:
        raise ReadingRefused(_("This case is not assigned to you."))
    return locked


def _repeat_settled(assignment: Assignment, client_event_id: UUID) -> Read | None:
    """What a submission that is not the case's first answer gets, from the locked row.

    The read made with the same ``client_event_id`` (a retry: marked ``replayed``), a
    refusal (an id already used for another case; another answer to an answered case),
    or None when this submission is the case's first answer.
    """
    event_assignment_id = assignment.event_assignment_id  # type: ignore[attr-defined]
    if event_assignment_id is not None and event_assignment_id != assignment.pk:
        raise AlreadyAnswered(_("This submission id was used for another case."))
    if assignment.answered_at is None:
        return None
    try:
        first = assignment.read  # joined by _locked_for_answer
    except Read.DoesNotExist:
        first = None
    if first is not None and first.client_event_id == client_event_id:
        first.replayed = True  # type: ignore[attr-defined]
        first.assignment = assignment  # answering it needs no second fetch of the assignment
        return first
    raise AlreadyAnswered(_("You have answered this case already."))


def _answer_checked(
    assignment: Assignment, answer: ReadAnswer, now: datetime
) -> tuple[PhaseRules, dict[str, Any]]:
    """Refuse an answer the session or its phase does not take now; the phase's extras."""
    session = assignment.session
    session_require_open(session=session, now=now)
    if assignment.served_at is None:
        raise ReadingRefused(_("Open the case before answering it."))
    rules = phase_rules(session.phase)
    gate = rules.form_gate(assignment)
    if gate:
        raise ReadingRefused(gate)
    _rating_check(answer, session)
    return rules, rules.answer_clean(assignment, answer.extra)


def _read_record(
    *,
    assignment: Assignment,
    reader: Any,
    answer: ReadAnswer,
    extra: dict[str, Any],
    tools: dict[str, int],
    client_event_id: UUID,
    now: datetime,
) -> Read:
    """Close the case's timing and store its read (the case is then answered)."""
    assert assignment.served_at is not None  # _answer_checked refuses a case never opened
    stretch_close(assignment, now)
    wall_ms = ms(now - assignment.served_at)
    read = Read(
        assignment=assignment,
        reader=reader,
        client_event_id=client_event_id,
        severe=answer.severe,
        confidence=answer.confidence,
        rating=answer.rating,
        conditions=list(answer.conditions),
        ivh_grade=answer.ivh_grade,
        comment=answer.comment,
        answer=extra,
        tool_use=tools,
        served_at=assignment.served_at,
        answered_at=now,
        wall_ms=wall_ms,
        active_ms=min(assignment.active_ms, wall_ms),
    )
    # Uniqueness is settled under the row lock above and the check constraints are in
    # the database; skipping their per-field queries keeps submission fast.
    read.full_clean(
        exclude=["assignment", "reader"], validate_unique=False, validate_constraints=False
    )
    # Every submission writes these two rows: statements written once (config.statements).
    sql.insert(read)
    read.replayed = False  # type: ignore[attr-defined]
    assignment.answered_at = now
    assignment.last_seen_at = now
    assignment.draft = {}
    sql.update(
        assignment,
        ["answered_at", "active_ms", "active_since", "last_seen_at", "draft", "modified"],
    )
    return read


@transaction.atomic
def read_submit(
    *,
    reader: Any,
    assignment: Assignment,
    answer: ReadAnswer,
    client_event_id: UUID,
    tool_use: Any = None,
) -> Read:
    """Record a reader's answer once; a repeated submission returns the first read.

    The same ``client_event_id`` always gives back the read it first made (retries,
    double clicks, lost responses), with ``read.replayed`` True. Another answer to an
    answered case is refused. ``tool_use`` (the workstation's tool counts,
    :func:`readers.tool_use.tool_use_clean`) is kept with the read; None records none.

    Every outcome is settled under the assignment's row lock (:func:`_locked_for_answer`),
    so a retry racing its first submission waits for it and gets its read back.
    """
    assignment = _locked_for_answer(assignment, reader, client_event_id)
    repeated = _repeat_settled(assignment, client_event_id)
    if repeated is not None:
        return repeated  # before the answer's checks: a retry gets its first read back
    answer = answer.cleaned()
    tools = tool_use_clean(tool_use)
    now = timezone.now()
    rules, extra = _answer_checked(assignment, answer, now)
    read = _read_record(
        assignment=assignment,
        reader=reader,
        answer=answer,
        extra=extra,
        tools=tools,
        client_event_id=client_event_id,
        now=now,
    )
    session = assignment.session
    completed = not assignment.others_unanswered  # type: ignore[attr-defined]
    if completed:
        session.completed_at = now
        session.save(update_fields=["completed_at", "modified"])
        rules.on_completed(session)
    # Audit rows last: the study chain's lock is then held only until the commit.
    audit_record(
        actor=reader,
        action=AuditAction.READ_SUBMITTED,
        target=read,
        study=session.study,
        after=_answer_record(answer)
        | {
            "assignment": assignment.token,
            "served_at": read.served_at.isoformat(),
            "wall_ms": read.wall_ms,
            "active_ms": read.active_ms,
            "tool_use": tools,
        },
    )
    if completed:
        audit_record(actor=reader, action=AuditAction.SESSION_COMPLETED, target=session)
    return read


@transaction.atomic
def read_revise(*, reader: Any, read: Read, answer: ReadAnswer, reason: str) -> Read:
    """Change a submitted answer where the study allows revisits; every revision is audited."""
    read = (
        Read.objects.select_for_update()
        .select_related("assignment__session__study")
        .get(pk=read.pk)
    )
    session = read.assignment.session
    if read.reader_id != reader.pk:
        raise ReadingRefused(_("This read is not yours."))
    if not session.study.allow_revisits:
        raise ReadingRefused(_("This study does not allow changing an answer."))
    if session.study.status != StudyStatus.OPEN:
        raise ReadingRefused(_("The study is not open for reading."))
    rules = phase_rules(session.phase)
    gate = rules.revision_gate(read.assignment)
    if gate:
        raise ReadingRefused(gate)
    if not reason.strip():
        raise ValidationError(_("Changing an answer needs a reason."))
    answer = answer.cleaned()
    _rating_check(answer, session)
    extra = rules.answer_clean(read.assignment, answer.extra)
    before = {
        "severe": read.severe,
        "confidence": read.confidence,
        "rating": read.rating,
        "conditions": read.conditions,
        "ivh_grade": read.ivh_grade,
        "comment": read.comment,
        "extra": read.answer,
        "revision": read.revision,
    }
    read.severe = answer.severe
    read.confidence = answer.confidence
    read.rating = answer.rating
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
