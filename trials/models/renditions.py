"""The canonical reader-facing copies of a case's files and of its materials' views."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from trials.models.base import UUIDModel
from trials.models.cases import Asset, Case, Orientation, ViewChoices
from trials.models.materials import MaterialSet


class RenditionKind(models.TextChoices):
    IMAGE = "image", _("Image")
    VIDEO = "video", _("Video")


class RenditionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class RenditionPurpose(models.TextChoices):
    """What a rendition shows; the reading workstation selects slots by it, never by absence."""

    CASE_MEDIA = "case_media", _("The case's own image or sweep")
    MATERIAL_VIEW = "material_view", _("A standard view of a material set")
    EXPLANATION = "explanation", _("An explanation overlay of a material's view (AI heatmap)")


def rendition_upload_to(instance: Rendition, filename: str) -> str:
    # Opaque, content-free names: nothing in a reader-facing path tells its source.
    ext = "mp4" if instance.kind == RenditionKind.VIDEO else "png"
    return f"renditions/{instance.id.hex}.{ext}"


class Rendition(UUIDModel):
    """The canonical reader-facing copy of a case's video or of a material's view.

    ``purpose`` says which: a rendition of one of the case's uploaded assets
    (``case_media``, no material set), a standard view of a material set
    (``material_view``), or an AI explanation overlay of one of its views
    (``explanation``; colour, so shown only where the AI is shown openly).
    """

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="renditions")
    asset = models.ForeignKey(
        Asset, on_delete=models.PROTECT, null=True, blank=True, related_name="renditions"
    )
    material_set = models.ForeignKey(
        MaterialSet, on_delete=models.PROTECT, null=True, blank=True, related_name="renditions"
    )
    kind = models.CharField(max_length=8, choices=RenditionKind.choices)
    purpose = models.CharField(
        max_length=16, choices=RenditionPurpose.choices, default=RenditionPurpose.CASE_MEDIA
    )
    orientation = models.CharField(max_length=16, choices=Orientation.choices, blank=True)
    view = models.CharField(max_length=8, choices=ViewChoices.choices, blank=True)
    not_obtainable = models.BooleanField(default=False)
    frame_index = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=8, choices=RenditionStatus.choices, default=RenditionStatus.PENDING
    )
    error = models.TextField(blank=True)
    file = models.FileField(upload_to=rendition_upload_to, max_length=255, blank=True)
    content_type = models.CharField(max_length=32, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    frame_count = models.PositiveIntegerField(default=1)
    #: A sweep's playback rate (the study's cine rate when it was made); None for images.
    fps = models.FloatField(null=True, blank=True)
    #: Millimetres per rendition pixel (x, y) of a case's own DICOM image or sweep, from its
    #: ultrasound region (Physical Delta X/Y) or Pixel Spacing, divided by the rendition's
    #: resize factor; None when the source declares none (and for every material view).
    pixel_spacing_x_mm = models.FloatField(null=True, blank=True)
    pixel_spacing_y_mm = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["case", "kind", "orientation", "view"]
        constraints = [
            models.UniqueConstraint(
                fields=["asset"],
                condition=Q(material_set__isnull=True),
                name="rendition_one_per_asset",
            ),
            models.UniqueConstraint(
                fields=["material_set", "view", "purpose"],
                condition=Q(material_set__isnull=False),
                name="rendition_one_per_material_view",
            ),
            models.CheckConstraint(
                condition=(
                    Q(purpose=RenditionPurpose.CASE_MEDIA)
                    & Q(asset__isnull=False)
                    & Q(material_set__isnull=True)
                )
                | (
                    Q(purpose__in=[RenditionPurpose.MATERIAL_VIEW, RenditionPurpose.EXPLANATION])
                    & Q(asset__isnull=True)
                    & Q(material_set__isnull=False)
                ),
                name="rendition_purpose_matches_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"rendition {self.id}"
