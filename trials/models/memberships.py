"""Who holds which role in a study, and a reader's tier there."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from trials.models.base import UUIDModel
from trials.models.studies import Study


class Role(models.TextChoices):
    COORDINATOR = "coordinator", _("Study coordinator")
    READER = "reader", _("Reader")
    STATISTICIAN = "statistician", _("Statistician")


#: Roles that may not be held together with the reader role in one study: whoever sees
#: the gold standard, the allocation or other readers' answers must not read himself.
STAFF_ROLES: tuple[str, ...] = (Role.COORDINATOR, Role.STATISTICIAN)


class ReaderTier(models.TextChoices):
    JUNIOR = "junior", _("Junior")
    MID_LEVEL = "mid_level", _("Mid-level")
    SENIOR = "senior", _("Senior")


class MembershipQuerySet(models.QuerySet):
    def active(self) -> MembershipQuerySet:
        """Memberships not ended: the only ones that give access (every permission check)."""
        return self.filter(ended_at__isnull=True)


class Membership(UUIDModel):
    """A user's role in one study; every page and API checks it at object level.

    An ended membership (``ended_at`` set, with who ended it and why) gives no access to
    anything: permission checks see only :meth:`MembershipQuerySet.active` rows. It stays,
    with the person's reads, as the study's history.

    A reader's tier and experience belong to his membership in one study (the same
    person may be a junior in one study and a senior in another), so enrolling him in
    one study never changes another. One person may not hold the reader role and a
    staff role (:data:`STAFF_ROLES`) in the same study; services check it, and a
    database trigger (migration 0007) refuses it whoever writes the row.
    """

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    tier = models.CharField(_("tier"), max_length=16, choices=ReaderTier.choices, blank=True)
    years_experience = models.PositiveSmallIntegerField(_("years of CUS experience"), default=0)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    end_reason = models.TextField(_("reason for ending"), blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["study", "role"]
        constraints = [
            models.UniqueConstraint(fields=["study", "user", "role"], name="membership_unique"),
            models.CheckConstraint(
                condition=Q(role=Role.READER) | (Q(tier="") & Q(years_experience=0)),
                name="membership_tier_only_for_readers",
            ),
            models.CheckConstraint(
                condition=Q(years_experience__lte=60), name="membership_years_range"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | ~Q(end_reason=""),
                name="membership_end_needs_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} in {self.study}"
