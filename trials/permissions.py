"""Object-level access: fetch and authorise in one step (Zulip's ``access_*`` helpers)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import permissions

from trials.models import Case, Membership, Role, Study, StudyStatus

#: Platform permission (a Django permission, not a study role) needed to create a study.
STUDY_CREATE_PERMISSION = "trials.add_study"


def study_roles(user: Any, study: Study) -> set[str]:
    """The roles ``user`` holds in ``study`` (empty for anonymous users).

    Only memberships that have not ended count: every page and API check goes through
    here (or :func:`active_memberships`), so an ended membership gives no access anywhere.
    """
    if not getattr(user, "is_authenticated", False):
        return set()
    return set(active_memberships(user).filter(study=study).values_list("role", flat=True))


def active_memberships(user: Any) -> QuerySet[Membership]:
    """``user``'s memberships that give access (none for anonymous users; never ended ones)."""
    if not getattr(user, "is_authenticated", False):
        return Membership.objects.none()
    return Membership.objects.active().filter(user=user)


def access_study(user: Any, study_id: UUID | str, *, roles: tuple[str, ...] = tuple(Role)) -> Study:
    """The study if ``user`` holds one of ``roles`` in it.

    A study the user does not belong to is reported as not found (404), so its existence
    is not revealed; a member without the needed role gets 403.
    """
    try:
        study = Study.objects.get(pk=study_id)
    except (
        Study.DoesNotExist,
        ValueError,
        ValidationError,
    ) as exc:  # a malformed id is unknown too
        raise Http404(_("No such study.")) from exc
    held = study_roles(user, study)
    if not held:
        raise Http404(_("No such study."))
    if not held.intersection(roles):
        raise PermissionDenied(_("Your role in this study does not allow this."))
    return study


def access_case(user: Any, case_id: UUID | str, *, roles: tuple[str, ...]) -> Case:
    """The case if ``user`` holds one of ``roles`` in its study (404 otherwise)."""
    try:
        case = Case.objects.select_related("study", "dataset").get(pk=case_id)
    except (Case.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404(_("No such case.")) from exc
    access_study(user, case.study_id, roles=roles)
    return case


def can_create_studies(user: Any) -> bool:
    """Whether ``user`` holds the platform permission to create studies.

    Creating a study makes its creator its coordinator, who enrols readers and sets their
    tiers, so it is not open to every account.
    """
    return bool(getattr(user, "is_authenticated", False) and user.has_perm(STUDY_CREATE_PERMISSION))


def gold_standard_refusal(user: Any, study: Study) -> str:
    """Why ``user`` may not see ``study``'s gold standard now ("" when he may).

    Coordinators import and keep the gold standard. Statisticians see unblinded data only
    once the study is locked (DESIGN.md: users), whatever its design.
    """
    if Role.COORDINATOR in study_roles(user, study):
        return ""
    if study.status in (StudyStatus.LOCKED, StudyStatus.UNBLINDED):
        return ""
    return _("The gold standard is shown to statisticians once the study is locked.")


class IsStudyCoordinator(permissions.BasePermission):
    """DRF check for views whose ``get_study()`` returns the study in the URL."""

    def has_permission(self, request: Any, view: Any) -> bool:
        view.get_study(roles=(Role.COORDINATOR,))
        return True
