"""The diagnostic material of a case from one source (AI, junior, sonographer)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from trials.models.base import UUIDModel
from trials.models.cases import Case


class MaterialSource(models.TextChoices):
    AI = "ai", _("AI")
    JUNIOR = "junior", _("Junior radiologist")
    SONOGRAPHER = "sonographer", _("Sonographer")


class MaterialStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    COMPLETE = "complete", _("Complete")


class MaterialSet(UUIDModel):
    """The diagnostic material of a case from one source: its standard views and diagnosis."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="material_sets")
    source = models.CharField(max_length=16, choices=MaterialSource.choices)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="material_sets",
    )
    # The model version that made an AI set (inference.ModelVersion id; trials cannot
    # import inference, so the reference is by value).
    author_model_id = models.UUIDField(null=True, blank=True)
    author_model_label = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=16, choices=MaterialStatus.choices, default=MaterialStatus.PENDING
    )
    initial_severe = models.BooleanField(_("initial diagnosis: severe"), default=False)
    initial_probability = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["case", "source", "created"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(source=MaterialSource.AI) | Q(author_model_id__isnull=False),
                name="material_ai_needs_model",
            ),
            models.CheckConstraint(
                condition=Q(source=MaterialSource.AI)
                | Q(author_user__isnull=False)
                | Q(author_model_label__gt=""),
                name="material_human_needs_author",
            ),
            models.UniqueConstraint(
                fields=["case", "author_model_id"],
                condition=Q(source="ai"),
                name="material_one_ai_set_per_model",
            ),
            models.CheckConstraint(
                condition=Q(initial_probability__isnull=True)
                | (Q(initial_probability__gte=0) & Q(initial_probability__lte=1)),
                name="material_probability_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case} [{self.get_source_display()}]"
