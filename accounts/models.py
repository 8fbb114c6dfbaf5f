"""Invitations to a study and API tokens; secrets are stored only as SHA-256 hashes."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from trials.models import ReaderTier, Role, Study


class Invitation(models.Model):
    """A coordinator's invitation of an e-mail address to a role in one study.

    The e-mail carries a one-time link whose token is stored only as its SHA-256
    (``token_sha256``); the link works once (``used_at``), until ``expires_at``, and not
    after it is withdrawn. Accepting it makes (or, for an existing account, logs in and
    uses) an account and adds the membership through ``trials.services.membership_add``.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="invitations")
    email = models.EmailField(_("e-mail address"))
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    tier = models.CharField(_("tier"), max_length=16, choices=ReaderTier.choices, blank=True)
    years_experience = models.PositiveSmallIntegerField(_("years of CUS experience"), default=0)
    token_sha256 = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires"))
    used_at = models.DateTimeField(_("used"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role=Role.READER) | (Q(tier="") & Q(years_experience=0)),
                name="invitation_tier_only_for_readers",
            ),
            models.CheckConstraint(
                condition=Q(years_experience__lte=60), name="invitation_years_range"
            ),
        ]

    def __str__(self) -> str:
        return f"invitation of {self.email} as {self.role} to {self.study}"

    @property
    def state(self) -> str:
        """pending, used, expired or withdrawn."""
        if self.used_at is not None:
            return "used"
        if self.withdrawn_at is not None:
            return "withdrawn"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"

    def get_state_display(self) -> str:
        return str(
            {
                "pending": _("pending"),
                "used": _("accepted"),
                "withdrawn": _("withdrawn"),
                "expired": _("expired"),
            }[self.state]
        )


class ApiToken(models.Model):
    """A personal API token for scripts: shown once, stored as its SHA-256, revocable.

    The token is ``fnt_`` followed by ``secrets.token_urlsafe(32)``; its first
    characters (``prefix``) find the row, the hash is compared in constant time.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=16, db_index=True, editable=False)
    token_sha256 = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
