"""Who may register and verify models."""

from __future__ import annotations

from typing import Any

from trials.models import Membership, Role

#: The platform permission that lets a user who is not staff register and verify models.
MANAGE_PERMISSION = "inference.add_modelversion"


def can_manage_models(user: Any) -> bool:
    """Staff, or a user holding :data:`MANAGE_PERMISSION` who reads in no study.

    A reader must not learn which models the platform runs, so a reader membership
    outweighs the permission (staff excepted).
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_staff:
        return True
    if not user.has_perm(MANAGE_PERMISSION):
        return False
    return not Membership.objects.filter(user=user, role=Role.READER).exists()
