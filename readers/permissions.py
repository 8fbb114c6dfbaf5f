"""Object-level access to reading sessions and assignments: fetch and authorise at once.

A session is its reader's only while his reader membership of the study has not ended
(``trials.permissions.active_memberships``); his reads stay, out of his reach.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import Http404
from django.utils.translation import gettext as _

from readers import statements
from readers.models import Assignment, ReadingSession


def access_session(user: Any, session_id: UUID | str) -> ReadingSession:
    """The reading session if it is ``user``'s own and he reads in its study now (404
    otherwise, revealing nothing); one statement (:func:`readers.statements.reader_session`)."""
    if not getattr(user, "is_authenticated", False):
        raise Http404(_("No such session."))
    session = statements.reader_session(user.pk, session_id)
    if session is None:
        raise Http404(_("No such session."))
    return session


def access_assignment(user: Any, token: str) -> Assignment:
    """The assignment behind ``token`` if it belongs to ``user``'s session and he reads in
    its study now (404 otherwise); one statement (:func:`readers.statements.reader_assignment`)."""
    if not getattr(user, "is_authenticated", False):
        raise Http404(_("No such case."))
    assignment = statements.reader_assignment(user.pk, token)
    if assignment is None:
        raise Http404(_("No such case."))
    return assignment
