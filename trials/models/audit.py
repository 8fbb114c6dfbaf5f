"""The append-only, hash-chained audit trail and the actions it records."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from trials.models.studies import Study


class AuditAction(models.TextChoices):
    STUDY_CREATED = "study.created"
    STUDY_UPDATED = "study.updated"
    STUDY_STATUS_CHANGED = "study.status_changed"
    SITE_CREATED = "site.created"
    DATASET_CREATED = "dataset.created"
    MEMBERSHIP_ADDED = "membership.added"
    MEMBERSHIP_REMOVED = "membership.removed"
    MEMBERSHIP_ENDED = "membership.ended"
    MEMBERSHIP_RESUMED = "membership.resumed"
    INVITATION_SENT = "invitation.sent"
    INVITATION_ACCEPTED = "invitation.accepted"
    INVITATION_WITHDRAWN = "invitation.withdrawn"
    API_TOKEN_CREATED = "api_token.created"  # noqa: S105 (an audit action, not a secret)
    API_TOKEN_REVOKED = "api_token.revoked"  # noqa: S105
    TWO_FACTOR_ENABLED = "two_factor.enabled"
    TWO_FACTOR_DISABLED = "two_factor.disabled"
    CASES_IMPORTED = "cases.imported"
    CASE_CREATED = "case.created"
    CASE_EXCLUDED = "case.excluded"
    ASSET_INGESTED = "asset.ingested"
    RENDITION_MADE = "rendition.made"
    MATERIAL_CREATED = "material.created"
    MATERIAL_AMENDED = "material.amended"
    ALLOCATION_COMMITTED = "allocation.committed"
    STUDY_UNBLINDED = "study.unblinded"
    SESSION_CREATED = "session.created"
    READ_SUBMITTED = "read.submitted"
    READ_REVISED = "read.revised"
    SOURCE_GUESSED = "source.guessed"
    MODEL_REGISTERED = "model.registered"
    ANALYSIS_RUN = "analysis.run"
    READER_ENROLLED = "reader.enrolled"
    SESSION_COMPLETED = "session.completed"
    SIGNATURE_APPLIED = "signature.applied"
    GOLD_STANDARD_AMENDED = "gold_standard.amended"


class AuditEvent(models.Model):
    """An append-only, hash-chained record of a change (each row holds its predecessor's hash).

    Written in the same transaction as the change it records. On PostgreSQL a trigger
    refuses UPDATE and DELETE; ``manage.py verify_audit`` checks the chain.
    """

    id = models.BigAutoField(primary_key=True)
    created = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    study = models.ForeignKey(
        Study,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    reason = models.TextField(blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.id} {self.action} {self.target_type}:{self.target_id}"
