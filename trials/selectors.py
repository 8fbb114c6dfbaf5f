"""Reads of the trials app."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from trials.models import (
    SAGITTAL_SIDES,
    STAFF_ROLES,
    Asset,
    AssetKind,
    Case,
    Dataset,
    Membership,
    Orientation,
    Role,
    Study,
)

#: The one answer to an enrolment by username, whether or not the account exists, so that
#: enrolling tells nobody which usernames exist.
ENROLMENT_ANSWER = gettext_lazy(
    "Done for “%(username)s” if an account has that username; "
    "the study's members are listed on its page."
)


def active_user_by_username(*, username: str) -> Any | None:
    """The active account called ``username``, or None (callers answer both alike)."""
    return get_user_model().objects.filter(username=username, is_active=True).first()


def studies_for_user(*, user: Any) -> QuerySet[Study]:
    """The studies ``user`` belongs to in any role."""
    if not getattr(user, "is_authenticated", False):
        return Study.objects.none()
    return Study.objects.filter(
        pk__in=Membership.objects.active().filter(user=user).values("study")
    )


def studies_coordinated_by(*, user: Any) -> QuerySet[Study]:
    """The studies in which ``user`` is a coordinator (memberships not ended)."""
    return Study.objects.filter(
        pk__in=Membership.objects.active().filter(user=user, role=Role.COORDINATOR).values("study")
    )


def study_datasets_with_counts(*, study: Study) -> QuerySet[Dataset]:
    """The study's datasets with their case counts (all and not excluded)."""
    return (
        study.datasets.select_related("site")
        .annotate(
            case_count=Count("cases"),
            included_count=Count("cases", filter=Q(cases__excluded=False)),
        )
        .order_by("name")
    )


def study_members(*, study: Study) -> QuerySet[Membership]:
    """The study's memberships with their users."""
    return study.memberships.select_related("user").order_by("role", "user__username")


def study_cases(*, study: Study) -> QuerySet[Case]:
    """The study's cases with dataset and gold standard, for coordinator pages."""
    return (
        study.cases.select_related("dataset", "gold_standard")
        .annotate(asset_count=Count("assets", distinct=True))
        .order_by("code")
    )


def membership_conflict(*, study: Study, user: Any, role: str) -> str:
    """Why ``user`` may not take ``role`` in ``study`` ("" when he may).

    Separation of duties: whoever coordinates or analyses a study sees what its readers
    must not know (gold standard, allocation, other readers' answers), so he may not
    read in it, and a reader may not take either staff role.
    """
    if user is None or getattr(user, "pk", None) is None:
        return ""
    held = set(Membership.objects.filter(study=study, user=user).values_list("role", flat=True))
    if role == Role.READER and held.intersection(STAFF_ROLES):
        return _(
            "%(user)s is a %(role)s of this study: "
            "a reader may not also be its coordinator or statistician."
        ) % {"user": user.get_username(), "role": sorted(held.intersection(STAFF_ROLES))[0]}
    if role in STAFF_ROLES and Role.READER in held:
        return _(
            "%(user)s reads in this study: "
            "a reader may not also be its coordinator or statistician."
        ) % {"user": user.get_username()}
    return ""


def case_sweeps(*, case: Case) -> dict[str, Asset]:
    """The sweep video of each declared orientation that every source of material works from.

    ``coronal`` and either ``sagittal`` or ``sagittal_left`` and ``sagittal_right``: the
    first uploaded sweep of an orientation, so the AI reads it and a junior picks his frames
    from it, and AI and human material of a case always come from the same sweeps. Uploads
    refuse a case with both sagittal forms; should one have both anyway (made before that
    check), the form of its first uploaded sagittal sweep stands and the other is left out.
    """
    sweeps: dict[str, Asset] = {}
    sagittal_form: bool | None = None  # True: one-sided sweeps; False: one sagittal sweep
    for asset in case.assets.filter(kind=AssetKind.SWEEP_VIDEO).order_by("created", "pk"):
        if asset.orientation != Orientation.CORONAL:
            sided = asset.orientation in SAGITTAL_SIDES
            if sagittal_form is None:
                sagittal_form = sided
            elif sided != sagittal_form:
                continue
        sweeps.setdefault(asset.orientation, asset)
    return sweeps
