"""The model registry and the AI's outputs on a study's cases."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from trials.models import Case, Dataset, MaterialSet, Rendition, Study, UUIDModel, ViewChoices

#: What a demo model's output is labelled with wherever the AI is shown openly (DESIGN.md).
DEMO_NOTICE = "demo model — not for clinical use"


class ChecksumMismatch(ValidationError):
    """A checkpoint file no longer matches the sha256 recorded when it was registered."""


class Provenance(models.TextChoices):
    """Where a registered model's weights come from (read from its directory's JSON records)."""

    PUBLISHED = "published", _("published weights (import-published)")
    TRAINED = "trained", _("trained with the platform's training commands")
    UPLOADED = "uploaded", _("uploaded (no training record)")


class ModelVersion(UUIDModel):
    """A trained NCLS model bundle (detector + diagnosis folds) with verified checksums.

    ``files`` holds the SHA-256 of every file, computed when it was registered; the last
    verification (every file hashed again) is kept with its time and result. Only
    ``register_demo_models`` (and the demo) sets ``is_demo``.
    """

    name = models.CharField(_("name"), max_length=100)
    version = models.CharField(_("version"), max_length=50)
    profile = models.CharField(_("profile"), max_length=16)
    directory = models.CharField(_("directory"), max_length=500)
    files = models.JSONField(_("checkpoint files with sha256"), default=list)
    metrics = models.JSONField(_("metrics"), default=dict)
    is_demo = models.BooleanField(_("demo model"), default=False)
    provenance = models.CharField(
        _("provenance"), max_length=16, choices=Provenance.choices, blank=True
    )
    #: The directory's format, training/import command lines, sources and their SHA-256.
    provenance_detail = models.JSONField(_("provenance detail"), default=dict, blank=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(_("last verified"), null=True, blank=True)
    verification_ok = models.BooleanField(_("last verification passed"), null=True, blank=True)
    #: What the last verification found wrong (one line per file), empty when it passed.
    verification_problems = models.JSONField(_("verification problems"), default=list, blank=True)

    class Meta:
        ordering = ["name", "-created"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="modelversion_unique")
        ]

    def __str__(self) -> str:
        label = f"{self.name} {self.version} ({self.profile})"
        return f"{label} — demo model, not for clinical use" if self.is_demo else label


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    COMPLETE = "complete", _("Complete")


class AIRun(UUIDModel):
    """A coordinator's request to run a model version over a dataset's cases."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="ai_runs")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="ai_runs")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="runs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    total = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.model_version} on {self.dataset}"


class ResultStatus(models.TextChoices):
    COMPLETE = "complete", _("Complete")
    FAILED = "failed", _("Failed")


class AICaseResult(UUIDModel):
    """The AI's reading of one case by one model version (one per pair, idempotent).

    The per-image labels and heatmaps live here, apart from the MaterialSet, and are
    shown only where a design allows AI assistance.
    """

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="ai_results")
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="results"
    )
    run = models.ForeignKey(
        AIRun, on_delete=models.PROTECT, related_name="results", null=True, blank=True
    )
    status = models.CharField(max_length=16, choices=ResultStatus.choices)
    error = models.TextField(blank=True)
    material_set = models.OneToOneField(
        MaterialSet, on_delete=models.PROTECT, null=True, blank=True, related_name="ai_result"
    )
    severe_probability = models.FloatField(null=True, blank=True)
    severe = models.BooleanField(default=False)
    rule = models.CharField(max_length=64, blank=True)
    image_labels = models.JSONField(default=dict)
    views = models.JSONField(default=dict)
    timings = models.JSONField(default=dict)
    #: The AI's reading time of the case in seconds: the pipeline's own measurement of its
    #: stages (``timings["total"]``: view extraction, diagnosis, heatmaps), or the worker's
    #: wall clock around the pipeline when it reports none. The AI's time per case in the
    #: read-time report, as the readers' active seconds are theirs.
    read_time_s = models.FloatField(_("read time (s)"), null=True, blank=True)

    class Meta:
        ordering = ["case"]
        constraints = [
            models.UniqueConstraint(fields=["case", "model_version"], name="aicaseresult_unique"),
            models.CheckConstraint(
                condition=~Q(status="complete") | Q(material_set__isnull=False),
                name="aicaseresult_complete_has_material",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case} by {self.model_version}: {self.status}"


class Heatmap(UUIDModel):
    """A Finer-CAM overlay of one view of an AI reading.

    The overlay is kept as a case-level ``Rendition`` (no material set), so readers in an
    aided phase get it through the same opaque, per-assignment file route as every image;
    it is colour by nature and shown only where the AI is shown openly.
    """

    result = models.ForeignKey(AICaseResult, on_delete=models.PROTECT, related_name="heatmaps")
    view = models.CharField(max_length=8, choices=ViewChoices.choices)
    rendition = models.OneToOneField(Rendition, on_delete=models.PROTECT, related_name="heatmap")

    class Meta:
        ordering = ["result", "view"]
        constraints = [
            models.UniqueConstraint(fields=["result", "view"], name="heatmap_unique_view")
        ]

    def __str__(self) -> str:
        return f"heatmap {self.view}"
