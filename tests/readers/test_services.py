"""Services of the readers app: sessions, serving, idempotent reads, washout, timing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from readers import services
from readers.models import Assignment, Read, ReadingSession, SessionPhase
from readers.services import ReadAnswer
from tests.readers.factories import reading_study
from trials.models import AuditAction, AuditEvent, StudyDesign

pytestmark = pytest.mark.django_db

ANSWER = ReadAnswer(severe=True, confidence=80, conditions=("hydrocephalus",))


class Clock:
    """``timezone.now`` under the test's control."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    fake = Clock()
    with mock.patch("django.utils.timezone.now", fake):
        yield fake


def read_all(reader, session: ReadingSession, clock: Clock | None = None) -> list[Read]:
    reads = []
    while (assignment := services.session_next_assignment(session=session)) is not None:
        services.assignment_serve(reader=reader, assignment=assignment)
        if clock is not None:
            clock.advance(seconds=10)
        reads.append(
            services.read_submit(
                reader=reader, assignment=assignment, answer=ANSWER, client_event_id=uuid.uuid4()
            )
        )
    return reads


def test_sessions_have_reproducible_random_orders():
    setup = reading_study(n_cases=6, n_readers=2, seed=11)
    seeds = {s.order_seed for s in ReadingSession.objects.filter(study=setup.study)}
    assert len(seeds) == 2  # each reader his own order
    for session in ReadingSession.objects.filter(study=setup.study):
        assert session.case_order == services.case_order_for(session.case_order, session.order_seed)
        positions = list(session.assignments.order_by("position").values_list("case_id", flat=True))
        assert [str(p) for p in positions] == session.case_order
    assert AuditEvent.objects.filter(action=AuditAction.SESSION_CREATED).count() == 2
    # Idempotent: creating again keeps the existing sessions.
    assert services.session_create_for_design(actor=setup.coordinator, study=setup.study) == []


def test_idempotent_submit_returns_the_first_read():
    setup = reading_study(n_cases=2)
    reader = setup.readers[0]
    assignment = services.session_next_assignment(session=setup.session_of(reader))
    services.assignment_serve(reader=reader, assignment=assignment)
    event = uuid.uuid4()
    first = services.read_submit(
        reader=reader, assignment=assignment, answer=ANSWER, client_event_id=event
    )
    again = services.read_submit(
        reader=reader,
        assignment=assignment,
        answer=ReadAnswer(severe=False, confidence=5),
        client_event_id=event,
    )
    assert again.pk == first.pk and again.severe is True
    assert Read.objects.filter(assignment=assignment).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.READ_SUBMITTED).count() == 1
    with pytest.raises(services.AlreadyAnswered):
        services.read_submit(
            reader=reader, assignment=assignment, answer=ANSWER, client_event_id=uuid.uuid4()
        )


def test_cases_are_read_in_order_and_not_revisited():
    setup = reading_study(n_cases=3)
    reader = setup.readers[0]
    session = setup.session_of(reader)
    second = session.assignments.get(position=2)
    with pytest.raises(services.ReadingRefused):
        services.assignment_serve(reader=reader, assignment=second)
    first = session.assignments.get(position=1)
    services.assignment_serve(reader=reader, assignment=first)
    services.read_submit(
        reader=reader, assignment=first, answer=ANSWER, client_event_id=uuid.uuid4()
    )
    with pytest.raises(services.AlreadyAnswered):
        services.assignment_serve(reader=reader, assignment=first)


def test_another_reader_cannot_serve_or_submit():
    setup = reading_study(n_cases=1, n_readers=2)
    mine = services.session_next_assignment(session=setup.session_of(setup.readers[0]))
    with pytest.raises(services.ReadingRefused):
        services.assignment_serve(reader=setup.readers[1], assignment=mine)
    services.assignment_serve(reader=setup.readers[0], assignment=mine)
    with pytest.raises(services.ReadingRefused):
        services.read_submit(
            reader=setup.readers[1], assignment=mine, answer=ANSWER, client_event_id=uuid.uuid4()
        )


def test_answer_validation():
    with pytest.raises(ValidationError):
        ReadAnswer(severe=True, confidence=101).cleaned()
    with pytest.raises(ValidationError):
        ReadAnswer(severe=True, confidence=50, conditions=("ivh",)).cleaned()
    with pytest.raises(ValidationError):
        ReadAnswer(severe=True, confidence=50, conditions=("tumour",)).cleaned()
    assert (
        ReadAnswer(severe=True, confidence=50, conditions=("ivh",), ivh_grade=3).cleaned().ivh_grade
        == 3
    )


def test_washout_refuses_the_aided_session_until_it_has_passed(clock):
    setup = reading_study(design=StudyDesign.ASSISTED_CROSSOVER, n_cases=3, washout_days=28)
    reader = setup.readers[0]
    unaided, aided = setup.session_of(reader), setup.session_of(reader, SessionPhase.AIDED)
    assert aided.case_order != unaided.case_order or aided.order_seed != unaided.order_seed
    first_aided = services.session_next_assignment(session=aided)
    with pytest.raises(services.ReadingRefused):  # before the unaided session is done
        services.assignment_serve(reader=reader, assignment=first_aided)
    read_all(reader, unaided, clock)
    unaided.refresh_from_db()
    assert unaided.completed_at == clock.now
    clock.advance(days=27, hours=23)
    with pytest.raises(services.ReadingRefused) as refused:
        services.assignment_serve(reader=reader, assignment=first_aided)
    assert refused.value.opens_at == unaided.completed_at + timedelta(days=28)
    # A forged available_from cannot open it early: the washout is recomputed.
    ReadingSession.objects.filter(pk=aided.pk).update(available_from=clock.now - timedelta(days=30))
    with pytest.raises(services.ReadingRefused):
        services.assignment_serve(reader=reader, assignment=first_aided)
    clock.advance(hours=1)
    served = services.assignment_serve(reader=reader, assignment=first_aided)
    assert served.material_set is not None and served.material_set.source == "ai"
    assert len(read_all(reader, aided, clock)) == 3


def test_active_time_excludes_hidden_time_and_clamps_gaps(clock):
    setup = reading_study(n_cases=2)
    reader = setup.readers[0]
    session = setup.session_of(reader)
    first = services.session_next_assignment(session=session)
    services.assignment_serve(reader=reader, assignment=first)
    clock.advance(seconds=10)
    services.activity_record(reader=reader, assignment=first, kind="hidden")
    clock.advance(seconds=300)  # tab hidden: not counted
    services.activity_record(reader=reader, assignment=first, kind="visible")
    clock.advance(seconds=5)
    read = services.read_submit(
        reader=reader, assignment=first, answer=ANSWER, client_event_id=uuid.uuid4()
    )
    assert read.wall_ms == 315_000
    assert read.active_ms == 15_000 == read.read_ms

    # A page that goes silent (no heartbeat) counts at most the gap clamp.
    second = services.session_next_assignment(session=session)
    services.assignment_serve(reader=reader, assignment=second)
    clock.advance(seconds=10)
    services.activity_record(reader=reader, assignment=second, kind="heartbeat")
    clock.advance(seconds=600)
    read = services.read_submit(
        reader=reader, assignment=second, answer=ANSWER, client_event_id=uuid.uuid4()
    )
    gap_ms = int(services.ACTIVITY_GAP.total_seconds() * 1000)
    assert read.wall_ms == 610_000
    assert read.active_ms == 10_000 + gap_ms
    assert read.active_ms <= read.wall_ms


def test_active_time_never_exceeds_wall_time(clock):
    setup = reading_study(n_cases=1)
    reader = setup.readers[0]
    assignment = services.session_next_assignment(session=setup.session_of(reader))
    services.assignment_serve(reader=reader, assignment=assignment)
    Assignment.objects.filter(pk=assignment.pk).update(active_ms=10**9)  # a corrupted counter
    clock.advance(seconds=3)
    read = services.read_submit(
        reader=reader, assignment=assignment, answer=ANSWER, client_event_id=uuid.uuid4()
    )
    assert read.active_ms == read.wall_ms == 3000


def test_draft_autosave_and_revision_audit(clock):
    setup = reading_study(n_cases=1, allow_revisits=True)
    reader = setup.readers[0]
    assignment = services.session_next_assignment(session=setup.session_of(reader))
    services.assignment_serve(reader=reader, assignment=assignment)
    services.read_draft_save(
        reader=reader, assignment=assignment, draft={"severe": True, "junk": 1}
    )
    assignment.refresh_from_db()
    assert assignment.draft == {"severe": True}
    read = services.read_submit(
        reader=reader, assignment=assignment, answer=ANSWER, client_event_id=uuid.uuid4()
    )
    with pytest.raises(ValidationError):
        services.read_revise(
            reader=reader, read=read, answer=ReadAnswer(severe=False, confidence=20), reason=" "
        )
    revised = services.read_revise(
        reader=reader,
        read=read,
        answer=ReadAnswer(severe=False, confidence=20),
        reason="second look at the sweep",
    )
    assert revised.revision == 1 and revised.severe is False
    event = AuditEvent.objects.get(action=AuditAction.READ_REVISED)
    assert event.before["severe"] is True and event.after["severe"] is False
    assert event.reason == "second look at the sweep"


def test_revision_refused_without_revisits():
    setup = reading_study(n_cases=1)
    reader = setup.readers[0]
    assignment = services.session_next_assignment(session=setup.session_of(reader))
    services.assignment_serve(reader=reader, assignment=assignment)
    read = services.read_submit(
        reader=reader, assignment=assignment, answer=ANSWER, client_event_id=uuid.uuid4()
    )
    with pytest.raises(services.ReadingRefused):
        services.read_revise(reader=reader, read=read, answer=ANSWER, reason="changed my mind")


def test_phase_hook_can_gate_the_form():
    """A later phase (blinded review) keeps the form closed until its gate opens."""
    from readers.phases import PHASE_RULES, PhaseRules

    setup = reading_study(n_cases=1)
    reader = setup.readers[0]
    assignment = services.session_next_assignment(session=setup.session_of(reader))
    services.assignment_serve(reader=reader, assignment=assignment)
    saved = PHASE_RULES[SessionPhase.UNAIDED]
    services.phase_rules_register(
        SessionPhase.UNAIDED, PhaseRules(form_gate=lambda a: "guess the source first")
    )
    try:
        with pytest.raises(services.ReadingRefused, match="guess the source"):
            services.read_submit(
                reader=reader, assignment=assignment, answer=ANSWER, client_event_id=uuid.uuid4()
            )
    finally:
        services.phase_rules_register(SessionPhase.UNAIDED, saved)
