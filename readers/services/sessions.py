"""Enrolment and reading sessions: who reads, in which order, and when a session opens."""

from __future__ import annotations

import hashlib
import json
import random
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from readers.models import Assignment, ReadingSession
from readers.phases import DESIGN_PHASES, Opening, phase_rules
from readers.services.refusals import ReadingRefused
from trials.audit import audit_record
from trials.models import (
    AllocationList,
    AuditAction,
    Dataset,
    Membership,
    Role,
    Study,
    StudyDesign,
    StudyStatus,
)
from trials.services.studies import membership_add


def reader_enrol(
    *, actor: Any, study: Study, user: Any, tier: str, years_experience: int = 0
) -> Membership:
    """Give ``user`` the reader role in ``study`` with his tier and experience in it.

    The tier belongs to this membership only: enrolling the same person in another
    study never changes it (see :func:`trials.services.membership_add`, which also
    refuses a reader who coordinates or analyses the study).
    """
    return membership_add(
        actor=actor,
        study=study,
        user=user,
        role=Role.READER,
        tier=tier,
        years_experience=years_experience,
    )


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
    if (
        study.design == StudyDesign.COUNTERBALANCED_CROSSOVER
        and not AllocationList.objects.filter(study=study).exists()
    ):
        # Each reader's cases and the order of his sessions come from the allocation.
        raise ValidationError(_("Make the allocation (blocks and sequences) before the sessions."))
    chosen = list(datasets) if datasets is not None else list(study.datasets.all())
    if any(dataset.study_id != study.pk for dataset in chosen):
        raise ValidationError(_("A dataset belongs to another study."))
    cases = {str(case.pk): case for case in study.cases.filter(dataset__in=chosen, excluded=False)}
    if not cases:
        raise ValidationError(_("The chosen datasets hold no cases to read."))
    members = Membership.objects.active().filter(study=study, role=Role.READER)
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
            session = _session_make(
                actor=actor, study=study, reader=user, phase=phase, cases=cases, seed=session_seed
            )
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
        return Opening(
            opens_at, _("This session opens on %(date)s.") % {"date": opens_at.date().isoformat()}
        )
    return Opening()


def session_require_open(*, session: ReadingSession, now: datetime) -> None:
    """Raise :class:`ReadingRefused` (with the opening time) unless the session is open."""
    opening = session_availability(session=session, now=now)
    if opening.reason:
        raise ReadingRefused(opening.reason, opens_at=opening.at)


def session_next_assignment(*, session: ReadingSession) -> Assignment | None:
    """The first unanswered assignment of the session, in its order."""
    return session.assignments.filter(answered_at__isnull=True).order_by("position").first()
