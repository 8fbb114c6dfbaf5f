"""Serving cases, timing them, and autosaving unfinished answers.

Clocks are the server's (``timezone.now``); nothing a client sends is trusted for timing
or for when a session opens.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config import statements as sql
from readers import statements
from readers.models import ActivityEvent, ActivityKind, Assignment, ReadingSession
from readers.phases import phase_rules
from readers.services.refusals import AlreadyAnswered, ReadingRefused
from readers.services.sessions import session_next_assignment, session_require_open

#: The longest silence (no event, no heartbeat) still counted as active time; the page
#: sends a heartbeat every 15 s while visible and in use, so a longer gap means the
#: machine slept, the network dropped or the page died, and the excess is clamped.
ACTIVITY_GAP = timedelta(seconds=45)
_DRAFT_KEYS = {"severe", "confidence", "rating", "conditions", "ivh_grade", "comment", "extra"}
_DRAFT_MAX_BYTES = 8192


def ms(delta: timedelta) -> int:
    """A duration in whole milliseconds, never negative."""
    return max(0, int(delta.total_seconds() * 1000))


def assignment_lock(assignment: Assignment, reader: Any) -> Assignment:
    """The assignment re-read under a row lock, with its session and study (not locked);
    refused unless it belongs to ``reader``.

    Only the assignment row is locked and re-read. Its session and study are taken from
    ``assignment`` when the caller fetched them (``access_assignment``, a session's
    ``assignments``): read unlocked moments before, they are what a join would have read
    unlocked now, and joining them again cost a third of a submission's queries' time.
    """
    if Assignment.session.is_cached(assignment) and ReadingSession.study.is_cached(
        assignment.session
    ):
        locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
        locked.session = assignment.session
    else:
        locked = (
            Assignment.objects.select_for_update(of=("self",))
            .select_related("session__study")
            .get(pk=assignment.pk)
        )
    if locked.session.reader_id != reader.pk:
        raise ReadingRefused(_("This case is not assigned to you."))
    return locked


def stretch_close(assignment: Assignment, now: datetime) -> None:
    """Add the current active stretch to ``active_ms``, clamping a silent gap."""
    if assignment.active_since is None:
        return
    last_seen = max(assignment.last_seen_at or assignment.active_since, assignment.active_since)
    end = min(now, last_seen + ACTIVITY_GAP)
    assignment.active_ms += ms(end - assignment.active_since)
    assignment.active_since = None


def _serve(
    *, reader: Any, assignment: Assignment, known_next: bool, locked: bool = False
) -> Assignment:
    now = timezone.now()
    if not locked:
        assignment = assignment_lock(assignment, reader)
    elif assignment.session.reader_id != reader.pk:
        raise ReadingRefused(_("This case is not assigned to you."))
    session = assignment.session
    if assignment.answered_at is not None:
        if not session.study.allow_revisits:
            raise AlreadyAnswered(
                _("You have answered this case; this study does not allow revisits.")
            )
        return assignment
    session_require_open(session=session, now=now)
    if not known_next:
        following = session_next_assignment(session=session)
        if following is None or following.pk != assignment.pk:
            raise ReadingRefused(_("Cases are read in the order of your session."))
    rules = phase_rules(session.phase)
    changed = ["active_since", "last_seen_at", "modified"]
    if assignment.material_set_id is None and rules.has_material:
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
    # Every serve writes these two rows: statements written once (config.statements).
    sql.update(assignment, changed)
    sql.insert(ActivityEvent(assignment=assignment, kind=ActivityKind.VISIBLE, received_at=now))
    return assignment


@transaction.atomic
def assignment_serve(*, reader: Any, assignment: Assignment) -> Assignment:
    """Open a case for its reader: record the first serve and start an active stretch.

    Refused when the session is not open (the aided session before its washout, whatever
    the client asks), when the case is not the reader's next one, or when it was answered
    and the study does not allow revisits.
    """
    return _serve(reader=reader, assignment=assignment, known_next=False)


@transaction.atomic
def session_serve_next(*, reader: Any, session: ReadingSession) -> Assignment | None:
    """Serve the reader's next case of ``session`` (None when none is left unanswered).

    Refused as :func:`assignment_serve` refuses. The case is found as the first unanswered
    one, so it needs no second order check under the lock: answers are never undone, and
    the lock's fresh ``answered_at`` tells whether it was answered meanwhile.
    """
    # Found and locked by one statement (with the session's case count, which the answer
    # shows); the lock's recheck skips a case answered meanwhile for the one after it.
    following = statements.next_unanswered_locked(session)
    if following is None:
        return None
    following.session = session
    return _serve(reader=reader, assignment=following, known_next=True, locked=True)


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
    assignment = assignment_lock(assignment, reader)
    if assignment.served_at is None or assignment.answered_at is not None:
        return assignment  # nothing is being timed: late beacons are ignored
    if kind in (ActivityKind.HIDDEN, ActivityKind.IDLE):
        stretch_close(assignment, now)
    elif (
        assignment.active_since is not None
        and assignment.last_seen_at is not None
        and (now - assignment.last_seen_at > ACTIVITY_GAP)
    ):
        stretch_close(assignment, now)  # a gap: count up to its clamp, restart now
        assignment.active_since = now
    elif assignment.active_since is None:
        assignment.active_since = now
    assignment.last_seen_at = now
    assignment.save(update_fields=["active_ms", "active_since", "last_seen_at", "modified"])
    ActivityEvent.objects.create(assignment=assignment, kind=kind, received_at=now)
    return assignment


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
    assignment = assignment_lock(assignment, reader)
    if assignment.answered_at is not None:
        raise AlreadyAnswered(_("This case has been answered."))
    assignment.draft = kept
    assignment.draft_saved_at = timezone.now()
    assignment.save(update_fields=["draft", "draft_saved_at", "modified"])
    return assignment
