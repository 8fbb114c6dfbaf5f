"""The e-mail (and worklist note) that a reader's washout is over and his second session open.

Sent once per reader and study: a :class:`~readers.models.WashoutNotice` row is written in
the transaction that sends it, and a second attempt finds the row and sends nothing. Two
paths reach it, both idempotent:

- when the first session completes, a task is scheduled for the moment the washout ends
  (``apply_async(eta=...)``; :func:`washout_notice_schedule`, a receiver of the phase
  rules' :data:`readers.phases.washout_began`);
- a daily sweep (Celery beat, ``config.celery``) sends whatever is due and unsent: a task
  lost with a broker, a worker down at that moment, an eager run that came too early.

The opening is recomputed from the first session (:func:`readers.phases.phase_rules`),
never read from a stored date, so nothing is sent before the session really opens. The
e-mail is written in the reader's language (:func:`preferences.services.language_for`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from config.celery import task_queue_on_commit
from readers.models import ReadingSession, SessionPhase, WashoutNotice
from readers.phases import phase_rules
from trials.models import Role, StudyDesign
from trials.permissions import active_memberships

logger = logging.getLogger(__name__)


#: The designs with a washout between two sessions, and the phases a second session has:
#: aided (the assisted crossover; unaided-first readers of the counterbalanced one) or
#: unaided (the counterbalanced crossover's AI-first readers). A first session opens at
#: once (:func:`washout_opens_at` is None for it), so it is never notified.
CROSSOVER_DESIGNS = (StudyDesign.ASSISTED_CROSSOVER, StudyDesign.COUNTERBALANCED_CROSSOVER)
SECOND_PHASES = (SessionPhase.AIDED, SessionPhase.UNAIDED)


def washout_opens_at(session: ReadingSession) -> datetime | None:
    """When an aided session opens (None while the unaided one is not complete)."""
    opening = phase_rules(session.phase).opening(session)
    return None if opening.reason else opening.at


def _site_url() -> str:
    return getattr(settings, "FONTANELLE_SITE_URL", "") or "http://localhost:8000"


def washout_notice_send(*, session: ReadingSession, now: datetime | None = None) -> bool:
    """E-mail the reader that his aided session is open, unless sent already or not yet open.

    Returns whether an e-mail went out. The notice row and the e-mail share one
    transaction: a failed send leaves no row, so the next attempt sends it.
    """
    now = now or timezone.now()
    if session.phase not in SECOND_PHASES or session.completed_at is not None:
        return False
    opens = washout_opens_at(session)
    if opens is None or opens > now:
        return False
    reader = session.reader
    if not active_memberships(reader).filter(study_id=session.study_id, role=Role.READER).exists():
        return False  # an ended membership gets no more mail about the study
    from preferences.services import language_for

    language = language_for(reader)
    with transaction.atomic():
        _notice, created = WashoutNotice.objects.get_or_create(
            session=session, defaults={"email": reader.email, "language": language, "sent_at": now}
        )
        if not created:
            return False
        if not reader.email:
            return False  # recorded: the worklist note is all he gets
        context = {
            "reader": reader,
            "study": session.study,
            "opens": opens,
            "link": _site_url().rstrip("/") + reverse("readers:worklist"),
            "aided": session.phase == SessionPhase.AIDED,
        }
        with translation.override(language):
            subject = " ".join(render_to_string("readers/washout_subject.txt", context).split())
            body = render_to_string("readers/washout_email.txt", context)
        send_mail(subject, body, None, [reader.email])
    return True


def washout_notices_due(*, now: datetime | None = None) -> list[ReadingSession]:
    """Second sessions of crossover studies, not complete, no notice yet, washout over."""
    now = now or timezone.now()
    candidates = ReadingSession.objects.filter(
        phase__in=SECOND_PHASES,
        completed_at__isnull=True,
        washout_notice__isnull=True,
        study__design__in=CROSSOVER_DESIGNS,
        available_from__lte=now,  # set when the unaided session completes; rechecked below
    ).select_related("study", "reader")
    return [s for s in candidates if (opens := washout_opens_at(s)) is not None and opens <= now]


def washout_notices_sweep(*, now: datetime | None = None) -> int:
    """Send every due washout e-mail (the daily sweep); how many went out."""
    sent = 0
    for session in washout_notices_due(now=now):
        try:
            sent += washout_notice_send(session=session, now=now)
        except Exception:  # one bad address must not stop the others; retried tomorrow
            logger.exception("washout notice for session %s failed", session.pk)
    return sent


def washout_notice_schedule(
    sender: Any, *, session: ReadingSession, opens: datetime, **kwargs: Any
) -> None:
    """Queue the notice task for the moment the washout ends (once the caller commits).

    The receiver of :data:`readers.phases.washout_began`.
    """
    task_queue_on_commit(
        "readers.tasks.notify_washout_ended", kwargs={"session_id": str(session.pk)}, eta=opens
    )
