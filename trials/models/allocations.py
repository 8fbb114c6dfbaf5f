"""The concealed allocation of a study: source-blinded entries and crossover blocks."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from trials.models.base import UUIDModel
from trials.models.cases import Case
from trials.models.materials import MaterialSource
from trials.models.studies import Study


class AllocationList(UUIDModel):
    """The concealed allocation of a source-blinded study, generated before any review.

    ``document`` is the canonical text whose SHA-256 (``commitment``) is shown when the
    study opens; it is disclosed only after unblinding.
    """

    study = models.OneToOneField(Study, on_delete=models.PROTECT, related_name="allocation_list")
    seed = models.BigIntegerField()
    parameters = models.JSONField()
    groups = models.JSONField()
    document = models.TextField()
    commitment = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"allocation of {self.study}"


class Allocation(UUIDModel):
    """Which material one senior reviews for one case: the AI's or a given junior's."""

    allocation_list = models.ForeignKey(
        AllocationList, on_delete=models.PROTECT, related_name="entries"
    )
    senior = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="allocations")
    source = models.CharField(max_length=16, choices=MaterialSource.choices)
    junior = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    stratum = models.CharField(max_length=200)
    block = models.PositiveIntegerField()

    class Meta:
        ordering = ["allocation_list", "senior", "case"]
        constraints = [
            models.UniqueConstraint(
                fields=["allocation_list", "senior", "case"], name="allocation_unique"
            ),
            models.CheckConstraint(
                condition=(Q(source="ai") & Q(junior__isnull=True))
                | (Q(source="junior") & Q(junior__isnull=False)),
                name="allocation_source_matches_junior",
            ),
        ]

    def __str__(self) -> str:
        return f"allocation {self.pk}"


class CrossoverSequence(models.TextChoices):
    """The order of a counterbalanced crossover reader's two sessions."""

    AI_FIRST = "ai_first", _("With AI first, then unaided")
    UNAIDED_FIRST = "unaided_first", _("Unaided first, then with AI")


class CrossoverReaderAllocation(UUIDModel):
    """A counterbalanced crossover reader's block and sequence (from the committed allocation)."""

    allocation_list = models.ForeignKey(
        AllocationList, on_delete=models.PROTECT, related_name="crossover_readers"
    )
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    block = models.PositiveSmallIntegerField()
    sequence = models.CharField(max_length=16, choices=CrossoverSequence.choices)

    class Meta:
        ordering = ["allocation_list", "block", "reader"]
        constraints = [
            models.UniqueConstraint(
                fields=["allocation_list", "reader"], name="crossover_reader_once"
            ),
        ]

    def __str__(self) -> str:
        return f"crossover reader {self.pk}"


class CrossoverCaseAllocation(UUIDModel):
    """Which block of a counterbalanced crossover study a case belongs to."""

    allocation_list = models.ForeignKey(
        AllocationList, on_delete=models.PROTECT, related_name="crossover_cases"
    )
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="+")
    block = models.PositiveSmallIntegerField()
    stratum = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["allocation_list", "block", "case"]
        constraints = [
            models.UniqueConstraint(fields=["allocation_list", "case"], name="crossover_case_once"),
        ]

    def __str__(self) -> str:
        return f"crossover case {self.pk}"
