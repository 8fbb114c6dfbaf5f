"""Writes of the readers app: enrolment, sessions, serving, drafts, reads and timing.

Phase-specific behaviour (what a phase shows, when it opens, its extra answer fields)
lives in :mod:`readers.phases`; these services ask it through :func:`phase_rules`, so a
later design only registers its rules (``phase_rules_register``) and reuses everything
here. Clocks are the server's (``timezone.now``); nothing a client sends is trusted for
timing or for when a session opens.

- :mod:`readers.services.sessions`: enrolment, sessions, their order and opening;
- :mod:`readers.services.serving`: serving a case, its timing, drafts;
- :mod:`readers.services.reads`: answers, the idempotent submission, revisions;
- :mod:`readers.services.refusals`: the refusals the views turn into 403 and 409.
"""

from readers.models import ReadingSession
from readers.phases import (
    PhaseRules,
    design_phases_register,
    phase_rules,
    phase_rules_register,
)
from readers.services.reads import ReadAnswer, read_revise, read_submit
from readers.services.refusals import AlreadyAnswered, ReadingRefused
from readers.services.serving import (
    ACTIVITY_GAP,
    activity_record,
    assignment_serve,
    read_draft_save,
    session_serve_next,
)
from readers.services.sessions import (
    case_order_for,
    reader_enrol,
    session_availability,
    session_create_for_design,
    session_next_assignment,
    session_require_open,
)

__all__ = [
    "ACTIVITY_GAP",
    "AlreadyAnswered",
    "PhaseRules",
    "ReadAnswer",
    "ReadingRefused",
    "activity_record",
    "assignment_serve",
    "case_order_for",
    "design_phases_register",
    "phase_of",
    "phase_rules_register",
    "read_draft_save",
    "read_revise",
    "read_submit",
    "reader_enrol",
    "session_availability",
    "session_create_for_design",
    "session_next_assignment",
    "session_require_open",
    "session_serve_next",
]


def phase_of(session: ReadingSession) -> PhaseRules:
    """The rules of a session's phase (re-exported for views)."""
    return phase_rules(session.phase)
