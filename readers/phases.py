"""What differs between reading phases, in small replaceable functions.

A design is a list of phases; a phase is a :class:`PhaseRules`. The session, assignment
and read machinery in :mod:`readers.services` asks these rules, and nothing else, what a
phase shows, when it opens and which extra answer fields it takes. A later design
(``blinded_review``, ``qualitative``) registers its rules with :func:`phase_rules_register`
and its phases with :func:`design_phases_register`; it needs no change to the services.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.dispatch import Signal
from django.utils.translation import gettext as _

from readers.models import Assignment, ReadingSession, SessionPhase
from trials.models import (
    Case,
    CrossoverCaseAllocation,
    CrossoverReaderAllocation,
    CrossoverSequence,
    MaterialSet,
    MaterialSource,
    MaterialStatus,
    Rendition,
    RenditionPurpose,
    RenditionStatus,
    Study,
    StudyDesign,
)


@dataclass(frozen=True)
class Opening:
    """When a session opens: ``at`` None and ``reason`` empty means open now."""

    at: datetime | None = None
    reason: str = ""


def _opens_now(session: ReadingSession) -> Opening:
    return Opening()


def _no_material(session: ReadingSession, case: Case) -> MaterialSet | None:
    return None


def _no_extra_answer(assignment: Assignment, extra: dict[str, Any]) -> dict[str, Any]:
    if extra:
        raise ValidationError(_("This phase takes no further answer fields."))
    return {}


def _form_always_open(assignment: Assignment) -> str:
    return ""


def _nothing_on_completion(session: ReadingSession) -> None:
    return None


def _revisable(assignment: Assignment) -> str:
    return ""


def _every_reader(study: Study, reader: Any) -> bool:
    return True


def _every_case(session: ReadingSession, cases: dict[str, Case]) -> dict[str, Case]:
    return cases


@dataclass(frozen=True)
class PhaseRules:
    """The phase-specific parts of reading.

    - ``opening(session)``: when the session may be read (checked on every serve/submit).
    - ``material_for(session, case)``: the MaterialSet shown beside the case, if any.
    - ``shows_ai``: the reader may see that the material is the AI's (diagnosis,
      probability, heatmaps). Only the aided phase does; a blinded phase never does.
    - ``answer_clean(assignment, extra)``: validates the phase-specific answer fields
      (stored in ``Read.answer``); raises ``ValidationError``.
    - ``form_gate(assignment)``: a non-empty reason keeps the diagnosis form closed (a
      blinded review returns one until the source guess is saved and locked).
    - ``on_completed(session)``: runs in the transaction that completes the session.
    - ``shows_case_media``: the case's own views and sweeps are shown (a blinded review
      shows only the material, which could otherwise be compared with them).
    - ``takes_reader(study, reader)``: whether the reader gets a session of this phase
      (e.g. only juniors prepare material, only seniors review it).
    - ``cases_for(session, cases)``: which of the chosen cases (id -> case) the session
      holds (e.g. a senior's allocated cases); empty makes no session.
    - ``revision_gate(assignment)``: a non-empty reason refuses changing the submitted
      answer (an unaided answer is closed once the reader has seen the AI).
    """

    opening: Callable[[ReadingSession], Opening] = _opens_now
    material_for: Callable[[ReadingSession, Case], MaterialSet | None] = _no_material
    shows_ai: bool = False
    answer_clean: Callable[[Assignment, dict[str, Any]], dict[str, Any]] = _no_extra_answer
    form_gate: Callable[[Assignment], str] = _form_always_open
    on_completed: Callable[[ReadingSession], None] = _nothing_on_completion
    shows_case_media: bool = True
    takes_reader: Callable[[Study, Any], bool] = _every_reader
    cases_for: Callable[[ReadingSession, dict[str, Case]], dict[str, Case]] = _every_case
    revision_gate: Callable[[Assignment], str] = _revisable

    @property
    def has_material(self) -> bool:
        """Whether the phase shows material at all (it has its own ``material_for``)."""
        return self.material_for is not _no_material


# ---------------------------------------------------------------- assisted crossover


def ai_material_for_case(case: Case, *, made_before: datetime | None = None) -> MaterialSet | None:
    """The AI's complete material for a case (the newest model's, if several).

    With ``made_before`` (a session's creation), only material that existed then: a
    session's material is fixed when it is created, so an AI run while the study is open
    (an audited amendment) reaches only sessions created after it, and every reader of
    the session's cases sees the same material whenever he is served.
    """
    materials = MaterialSet.objects.filter(
        case=case, source=MaterialSource.AI, status=MaterialStatus.COMPLETE
    )
    if made_before is not None:
        materials = materials.filter(created__lte=made_before)
    return materials.order_by("-created").first()


def session_ai_material(session: ReadingSession, case: Case) -> MaterialSet | None:
    """The AI material a session shows for a case: the newest that existed when it was made."""
    return ai_material_for_case(case, made_before=session.created)


def _crossover_allocation(session: ReadingSession) -> CrossoverReaderAllocation | None:
    """The reader's block and sequence in a counterbalanced crossover study (else None)."""
    if session.study.design != StudyDesign.COUNTERBALANCED_CROSSOVER:
        return None
    return CrossoverReaderAllocation.objects.filter(
        allocation_list__study_id=session.study_id, reader_id=session.reader_id
    ).first()


def _first_phase(session: ReadingSession) -> str:
    """The phase a reader reads first: unaided, unless his crossover sequence puts the AI first."""
    allocation = _crossover_allocation(session)
    if allocation is not None and allocation.sequence == CrossoverSequence.AI_FIRST:
        return SessionPhase.AIDED
    return SessionPhase.UNAIDED


def _other_session(session: ReadingSession, phase: str) -> ReadingSession | None:
    return ReadingSession.objects.filter(
        study_id=session.study_id, reader_id=session.reader_id, phase=phase
    ).first()


def _crossover_opening(session: ReadingSession) -> Opening:
    # The second session opens a washout after the first is completed. Recomputed from the
    # first session every time, so no stored or client-sent date can open it early.
    first = _first_phase(session)
    if session.phase == first:
        return Opening()
    first_session = _other_session(session, first)
    if first_session is None or first_session.completed_at is None:
        return Opening(
            None, _("This session opens after the washout that follows your first session.")
        )
    return Opening(first_session.completed_at + timedelta(days=session.study.washout_days))


#: Sent when a crossover reader's first session completes (in its transaction): the washout
#: before his second session has begun. ``session`` is the second session, ``opens`` when it
#: opens. What must happen when the washout ends listens here, so the phase rules import
#: none of it: the washout e-mail (:func:`readers.notifications.washout_notice_schedule`,
#: connected in :meth:`readers.apps.ReadersConfig.ready`), whose module reads these rules.
washout_began = Signal()


def _crossover_completed(session: ReadingSession) -> None:
    # Tell the worklist when the second session opens (display only; see _crossover_opening).
    if session.study.design not in (
        StudyDesign.ASSISTED_CROSSOVER,
        StudyDesign.COUNTERBALANCED_CROSSOVER,
    ) or session.phase != _first_phase(session):
        return
    second_phase = (
        SessionPhase.AIDED if session.phase == SessionPhase.UNAIDED else (SessionPhase.UNAIDED)
    )
    assert session.completed_at is not None  # runs once the session is completed
    opens = session.completed_at + timedelta(days=session.study.washout_days)
    second = ReadingSession.objects.filter(
        study_id=session.study_id, reader_id=session.reader_id, phase=second_phase
    )
    second.update(available_from=opens)
    for second_session in second:
        washout_began.send(sender=ReadingSession, session=second_session, opens=opens)


def _crossover_revision_gate(assignment: Assignment) -> str:
    # An answer of the first session changed once the second has started would no longer
    # be what it was (an unaided answer after the AI was seen, or the reverse).
    session = assignment.session
    if session.phase != _first_phase(session):
        return ""
    second_phase = (
        SessionPhase.AIDED if session.phase == SessionPhase.UNAIDED else (SessionPhase.UNAIDED)
    )
    started = ReadingSession.objects.filter(
        study_id=session.study_id,
        reader_id=session.reader_id,
        phase=second_phase,
        started_at__isnull=False,
    ).exists()
    if not started:
        return ""
    if session.phase == SessionPhase.UNAIDED:
        return _("Your aided session has started: your unaided answers can no longer change.")
    return _("Your unaided session has started: your aided answers can no longer change.")


def _crossover_block_cases(session: ReadingSession, cases: dict[str, Case]) -> dict[str, Case]:
    # A counterbalanced crossover reader reads only his block's cases, in both sessions.
    if session.study.design != StudyDesign.COUNTERBALANCED_CROSSOVER:
        return cases
    allocation = _crossover_allocation(session)
    if allocation is None:
        return {}
    block_cases = set(
        CrossoverCaseAllocation.objects.filter(
            allocation_list_id=allocation.allocation_list_id, block=allocation.block
        ).values_list("case_id", flat=True)
    )
    return {case_id: case for case_id, case in cases.items() if case.pk in block_cases}


PHASE_RULES: dict[str, PhaseRules] = {
    SessionPhase.UNAIDED: PhaseRules(
        opening=_crossover_opening,
        on_completed=_crossover_completed,
        revision_gate=_crossover_revision_gate,
        cases_for=_crossover_block_cases,
    ),
    SessionPhase.AIDED: PhaseRules(
        opening=_crossover_opening,
        material_for=session_ai_material,
        shows_ai=True,
        on_completed=_crossover_completed,
        revision_gate=_crossover_revision_gate,
        cases_for=_crossover_block_cases,
    ),
}

#: The phases of each design, in the order a reader meets them.
DESIGN_PHASES: dict[str, tuple[str, ...]] = {
    StudyDesign.STANDALONE: (SessionPhase.UNAIDED,),
    StudyDesign.ASSISTED_CROSSOVER: (SessionPhase.UNAIDED, SessionPhase.AIDED),
    # Both sessions of every reader, each with his block's cases; the order is his
    # allocated sequence (the opening rules enforce it, whatever the list says).
    StudyDesign.COUNTERBALANCED_CROSSOVER: (SessionPhase.UNAIDED, SessionPhase.AIDED),
}


def phase_rules_register(phase: str, rules: PhaseRules) -> None:
    """Install the rules of a phase (e.g. ``blinded_review`` from the source trial)."""
    PHASE_RULES[phase] = rules


def design_phases_register(design: str, phases: tuple[str, ...]) -> None:
    """Declare which phases :func:`readers.services.session_create_for_design` makes."""
    DESIGN_PHASES[design] = phases


def phase_rules(phase: str) -> PhaseRules:
    """The rules of ``phase``; ``ValueError`` for a phase nobody registered."""
    try:
        return PHASE_RULES[phase]
    except KeyError:
        raise ValueError(f"no rules registered for reading phase {phase!r}") from None


def heatmaps_for_material(material_set: MaterialSet) -> list[Rendition]:
    """The AI's explanation overlays (heatmaps) of a material set, by view.

    Only an AI set has them (``Rendition.purpose`` explanation, stored with the set);
    served only in a phase whose rules have ``shows_ai``.
    """
    return list(
        Rendition.objects.filter(
            material_set=material_set,
            purpose=RenditionPurpose.EXPLANATION,
            status=RenditionStatus.READY,
        ).order_by("view")
    )
