"""Reads of the trials app."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from trials.models import Case, Dataset, Membership, Role, Study


def studies_for_user(*, user: Any) -> QuerySet[Study]:
    """The studies ``user`` belongs to in any role."""
    if not getattr(user, "is_authenticated", False):
        return Study.objects.none()
    return Study.objects.filter(memberships__user=user).distinct()


def studies_coordinated_by(*, user: Any) -> QuerySet[Study]:
    """The studies in which ``user`` is a coordinator."""
    return Study.objects.filter(memberships__user=user, memberships__role=Role.COORDINATOR).distinct()


def study_datasets_with_counts(*, study: Study) -> QuerySet[Dataset]:
    """The study's datasets with their case counts (all and not excluded)."""
    return study.datasets.select_related("site").annotate(
        case_count=Count("cases"),
        included_count=Count("cases", filter=Q(cases__excluded=False)),
    ).order_by("name")


def study_members(*, study: Study) -> QuerySet[Membership]:
    """The study's memberships with their users."""
    return study.memberships.select_related("user").order_by("role", "user__username")


def study_cases(*, study: Study) -> QuerySet[Case]:
    """The study's cases with dataset and gold standard, for coordinator pages."""
    return study.cases.select_related("dataset", "gold_standard").annotate(
        asset_count=Count("assets", distinct=True)
    ).order_by("code")
