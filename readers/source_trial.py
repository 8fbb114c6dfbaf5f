"""The phases of the source trial and of the qualitative design, and the source guess.

- ``preparation``: juniors of a source-blinded study pick the standard views of every
  case from its sweeps and give an initial diagnosis (:mod:`readers.preparation`).
- ``blinded_review``: each senior reviews his allocated cases in a random order; the
  material is the allocated one (the AI's or his group's junior's), shown without its
  source, author or probability. The source guess is saved and locked first
  (:func:`source_guess_lock`), then the secondary diagnosis form opens.
- ``qualitative``: raters score the AI's extracted views on the paper's four criteria.

Nothing here is imported by the trials app; :func:`register` installs the rules when
the readers app is ready.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from readers.models import (
    Assignment,
    ReaderTier,
    ReadingSession,
    SessionPhase,
    SourceGuess,
    SourceGuessChoice,
)
from readers.phases import (
    Opening,
    PhaseRules,
    ai_material_for_case,
    design_phases_register,
    phase_rules_register,
    session_ai_material,
)
from readers.services import AlreadyAnswered, ReadingRefused, session_availability
from trials.audit import audit_record
from trials.models import (
    Allocation,
    AuditAction,
    Case,
    MaterialSet,
    MaterialSource,
    MaterialStatus,
    Membership,
    Role,
    Study,
    StudyDesign,
)

#: ``Read.answer`` keys (analysis.selectors reads the same names).
SOURCE_GUESS_KEY = "source_guess"
CHANGES_INITIAL_KEY = "changes_initial"
SCORES_KEY = "scores"

#: The paper's four qualitative criteria, each scored 1–5.
QUALITATIVE_CRITERIA: dict[str, Any] = {
    "view_correctness": gettext_lazy("View correctness"),
    "detection_accuracy": gettext_lazy("Detection accuracy"),
    "anatomical_recognition": gettext_lazy("Anatomical recognition"),
    "clinical_value": gettext_lazy("Clinical value"),
}


def reader_tier(study: Study, user: Any) -> str:
    """The user's reader tier in ``study`` ('' when he is not one of its readers)."""
    tier = (
        Membership.objects.filter(study=study, user=user, role=Role.READER)
        .values_list("tier", flat=True)
        .first()
    )
    return tier or ""


def study_juniors_seniors(study: Study) -> tuple[list[Any], list[Any]]:
    """The study's enrolled junior and senior readers (by their tier in it), by username."""
    members = (
        Membership.objects.filter(
            study=study, role=Role.READER, tier__in=[ReaderTier.JUNIOR, ReaderTier.SENIOR]
        )
        .select_related("user")
        .order_by("user__username")
    )
    juniors = [m.user for m in members if m.tier == ReaderTier.JUNIOR]
    seniors = [m.user for m in members if m.tier == ReaderTier.SENIOR]
    return juniors, seniors


# ------------------------------------------------------------------------ preparation


def _juniors_only(study: Study, reader: Any) -> bool:
    return (
        study.design == StudyDesign.SOURCE_BLINDED
        and reader_tier(study, reader) == ReaderTier.JUNIOR
    )


def _preparation_gate(assignment: Assignment) -> str:
    # The preparation is recorded only by material_prepare, which builds the material
    # first: a bare read submitted through the generic API is refused here.
    if assignment.material_set_id is None:
        return _("Pick the standard views before giving the initial diagnosis.")
    return ""


def _preparation_answer(assignment: Assignment, extra: dict[str, Any]) -> dict[str, Any]:
    # ``sweeps``: the sweep of a view more than one sweep shows (MSV of left and right
    # sagittal sweeps), as material_prepare passes it.
    picks, sweeps = extra.get("picks"), extra.get("sweeps", {})
    if (
        not set(extra) <= {"picks", "sweeps"}
        or not isinstance(picks, dict)
        or not isinstance(sweeps, dict)
        or not all(isinstance(v, str) for v in sweeps.values())
    ):
        raise ValidationError(_("A preparation records the picked frames and nothing else."))
    return {"picks": picks, **({"sweeps": sweeps} if sweeps else {})}


# --------------------------------------------------------------------- blinded review


def _seniors_only(study: Study, reader: Any) -> bool:
    return (
        study.design == StudyDesign.SOURCE_BLINDED
        and reader_tier(study, reader) == ReaderTier.SENIOR
    )


def _allocated_cases(session: ReadingSession, cases: dict[str, Case]) -> dict[str, Case]:
    allocated = set(
        Allocation.objects.filter(
            allocation_list__study_id=session.study_id, senior_id=session.reader_id
        ).values_list("case_id", flat=True)
    )
    return {case_id: case for case_id, case in cases.items() if case.pk in allocated}


def allocated_material(session: ReadingSession, case: Case) -> MaterialSet | None:
    """The allocated material of a senior's case: the AI's, or his group junior's (if ready)."""
    entry = (
        Allocation.objects.filter(
            allocation_list__study_id=session.study_id, senior_id=session.reader_id, case=case
        )
        .select_related("case")
        .first()
    )
    return None if entry is None else material_of_allocation(entry, made_before=session.created)


def material_of_allocation(entry: Allocation, *, made_before: Any = None) -> MaterialSet | None:
    """The complete material an allocation entry names (None while it is not ready).

    The AI's is the newest that existed at ``made_before`` (the session's creation: an
    AI run while the study is open does not reach it); a junior's is his one set of the
    case, prepared after the sessions are made.
    """
    if entry.source == MaterialSource.AI:
        return ai_material_for_case(entry.case, made_before=made_before)
    return (
        MaterialSet.objects.filter(
            case_id=entry.case_id,
            source=MaterialSource.JUNIOR,
            author_user_id=entry.junior_id,
            status=MaterialStatus.COMPLETE,
        )
        .order_by("created")
        .first()
    )


def _review_opening(session: ReadingSession) -> Opening:
    # The whole session waits for every allocated material: opening case by case would
    # tell the senior which cases wait for a person.
    for assignment in session.assignments.filter(material_set__isnull=True).select_related("case"):
        if allocated_material(session, assignment.case) is None:
            return Opening(
                None, _("This session opens when the material of all its cases is ready.")
            )
    return Opening()


def _review_gate(assignment: Assignment) -> str:
    if not SourceGuess.objects.filter(assignment=assignment).exists():
        return _("First say where you think the material comes from; your guess is then locked.")
    return ""


def _review_answer(assignment: Assignment, extra: dict[str, Any]) -> dict[str, Any]:
    if set(extra) - {CHANGES_INITIAL_KEY}:
        raise ValidationError(_("The source guess is given on its own, before the diagnosis."))
    changes = extra.get(CHANGES_INITIAL_KEY)
    if not isinstance(changes, bool):
        raise ValidationError(_("Say whether your diagnosis changes the initial diagnosis."))
    guess = SourceGuess.objects.get(assignment=assignment)
    return {
        SOURCE_GUESS_KEY: guess.guess,
        CHANGES_INITIAL_KEY: changes,
        "guess_locked_at": guess.guessed_at.isoformat(),
    }


@transaction.atomic
def source_guess_lock(
    *, reader: Any, assignment: Assignment, guess: str, client_event_id: UUID
) -> SourceGuess:
    """Save a senior's source guess, once; the same ``client_event_id`` returns it again.

    Refused outside a blinded review, before the case is served, after it is answered,
    and for a second guess (409): the guess cannot change once saved.
    """
    if guess not in SourceGuessChoice.values:
        raise ValidationError(_("The guess must be AI, junior or don't know."))
    existing = SourceGuess.objects.filter(client_event_id=client_event_id).first()
    if existing is not None:
        if existing.assignment_id != assignment.pk or existing.reader_id != reader.pk:
            raise AlreadyAnswered(_("This submission id was used for another case."))
        return existing
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("session__study")
        .get(pk=assignment.pk)
    )
    session = assignment.session
    if session.reader_id != reader.pk:
        raise ReadingRefused(_("This case is not assigned to you."))
    if session.phase != SessionPhase.BLINDED_REVIEW:
        raise ReadingRefused(_("This case takes no source guess."))
    opening = session_availability(session=session)
    if opening.reason:
        raise ReadingRefused(opening.reason, opens_at=opening.at)
    if assignment.served_at is None:
        raise ReadingRefused(_("Open the case before answering it."))
    if (
        assignment.answered_at is not None
        or SourceGuess.objects.filter(assignment=assignment).exists()
    ):
        raise AlreadyAnswered(_("Your source guess is locked and cannot change."))
    saved = SourceGuess(
        assignment=assignment,
        reader=reader,
        guess=guess,
        client_event_id=client_event_id,
        guessed_at=timezone.now(),
    )
    saved.full_clean(exclude=["assignment", "reader"], validate_unique=False)
    saved.save()
    audit_record(
        actor=reader,
        action=AuditAction.SOURCE_GUESSED,
        target=saved,
        study=session.study,
        after={
            "assignment": assignment.token,
            "guess": guess,
            "guessed_at": saved.guessed_at.isoformat(),
        },
    )
    return saved


# ------------------------------------------------------------------------ qualitative


def _qualitative_answer(assignment: Assignment, extra: dict[str, Any]) -> dict[str, Any]:
    scores = extra.get(SCORES_KEY)
    if (
        set(extra) != {SCORES_KEY}
        or not isinstance(scores, dict)
        or set(scores) != set(QUALITATIVE_CRITERIA)
    ):
        raise ValidationError(_("Score each of the four criteria."))
    for criterion, score in scores.items():
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise ValidationError(
                _("%(criterion)s must be scored 1 to 5.")
                % {"criterion": QUALITATIVE_CRITERIA[criterion]}
            )
    return {SCORES_KEY: {c: int(scores[c]) for c in QUALITATIVE_CRITERIA}}


def register() -> None:
    """Install the rules of the source trial's and the qualitative design's phases."""
    phase_rules_register(
        SessionPhase.PREPARATION,
        PhaseRules(
            takes_reader=_juniors_only,
            answer_clean=_preparation_answer,
            form_gate=_preparation_gate,
        ),
    )
    phase_rules_register(
        SessionPhase.BLINDED_REVIEW,
        PhaseRules(
            opening=_review_opening,
            material_for=allocated_material,
            shows_ai=False,
            answer_clean=_review_answer,
            form_gate=_review_gate,
            shows_case_media=False,
            takes_reader=_seniors_only,
            cases_for=_allocated_cases,
        ),
    )
    phase_rules_register(
        SessionPhase.QUALITATIVE,
        PhaseRules(
            material_for=session_ai_material,
            shows_ai=True,
            answer_clean=_qualitative_answer,
        ),
    )
    design_phases_register(
        StudyDesign.SOURCE_BLINDED, (SessionPhase.PREPARATION, SessionPhase.BLINDED_REVIEW)
    )
    design_phases_register(StudyDesign.QUALITATIVE, (SessionPhase.QUALITATIVE,))
