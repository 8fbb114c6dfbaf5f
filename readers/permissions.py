"""Object-level access to reading sessions and assignments: fetch and authorise at once.

A session is its reader's only while his reader membership of the study has not ended
(``trials.permissions.active_memberships``); his reads stay, out of his reach.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import Http404
from django.utils.translation import gettext as _

from readers.models import Assignment, ReadingSession
from trials.models import Role
from trials.permissions import active_memberships


def _reading_studies(user: Any):
    """The studies in which ``user`` is a reader now (an ended membership reads nothing)."""
    return active_memberships(user).filter(role=Role.READER).values("study")


def access_session(user: Any, session_id: UUID | str) -> ReadingSession:
    """The reading session if it is ``user``'s own (404 otherwise, revealing nothing)."""
    if not getattr(user, "is_authenticated", False):
        raise Http404(_("No such session."))
    try:
        return ReadingSession.objects.select_related("study").get(
            pk=session_id, reader=user, study__in=_reading_studies(user)
        )
    except (ReadingSession.DoesNotExist, ValueError) as exc:
        raise Http404(_("No such session.")) from exc


def access_assignment(user: Any, token: str) -> Assignment:
    """The assignment behind ``token`` if it belongs to ``user``'s session (404 otherwise)."""
    if not getattr(user, "is_authenticated", False):
        raise Http404(_("No such case."))
    try:
        return Assignment.objects.select_related("session__study").get(
            token=token, session__reader=user, session__study__in=_reading_studies(user)
        )
    except Assignment.DoesNotExist as exc:
        raise Http404(_("No such case.")) from exc
