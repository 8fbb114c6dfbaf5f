"""A case (one baby's examination) and the files uploaded for it."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from trials.models.base import UUIDModel
from trials.models.studies import Dataset, Study


class Sex(models.TextChoices):
    FEMALE = "F", _("Female")
    MALE = "M", _("Male")
    UNKNOWN = "U", _("Unknown")


class Case(UUIDModel):
    """One baby's examination: metadata, files and (apart) its gold standard."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="cases")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="cases")
    code = models.CharField(_("code"), max_length=64)
    ga_weeks = models.PositiveSmallIntegerField(_("gestational age (weeks)"), null=True, blank=True)
    ga_days = models.PositiveSmallIntegerField(_("gestational age (+days)"), null=True, blank=True)
    birth_weight_g = models.PositiveIntegerField(_("birth weight (g)"), null=True, blank=True)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    age_at_exam_days = models.PositiveIntegerField(_("age at exam (days)"), null=True, blank=True)
    apgar_1min = models.PositiveSmallIntegerField(_("Apgar 1 min"), null=True, blank=True)
    apgar_5min = models.PositiveSmallIntegerField(_("Apgar 5 min"), null=True, blank=True)
    probe_type = models.CharField(_("probe type"), max_length=64, blank=True)
    manufacturer = models.CharField(_("manufacturer"), max_length=64, blank=True)
    device_model = models.CharField(_("model"), max_length=64, blank=True)
    transducer_mhz = models.FloatField(_("transducer frequency (MHz)"), null=True, blank=True)
    excluded = models.BooleanField(_("excluded"), default=False)
    exclusion_reason = models.CharField(_("exclusion reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="case_unique_code"),
            models.CheckConstraint(
                condition=Q(ga_days__isnull=True) | Q(ga_days__lte=6), name="case_ga_days_0_6"
            ),
            models.CheckConstraint(
                condition=Q(ga_weeks__isnull=True) | (Q(ga_weeks__gte=20) & Q(ga_weeks__lte=45)),
                name="case_ga_weeks_range",
            ),
            models.CheckConstraint(
                condition=Q(apgar_1min__isnull=True) | Q(apgar_1min__lte=10), name="case_apgar1"
            ),
            models.CheckConstraint(
                condition=Q(apgar_5min__isnull=True) | Q(apgar_5min__lte=10), name="case_apgar5"
            ),
            models.CheckConstraint(
                condition=Q(excluded=False) | ~Q(exclusion_reason=""),
                name="case_exclusion_needs_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def gestational_age(self) -> str:
        if self.ga_weeks is None:
            return ""
        return f"{self.ga_weeks}+{self.ga_days or 0}"


class AssetKind(models.TextChoices):
    SWEEP_VIDEO = "sweep_video", _("Sweep video")
    VIEW_IMAGE = "view_image", _("Standard-view image")


class Orientation(models.TextChoices):
    """How a sweep was acquired, as declared at upload.

    A case has one coronal sweep and either one ``sagittal`` sweep across both sides or,
    as most scanner protocols give them, a ``sagittal_left`` and a ``sagittal_right`` sweep
    (each covers the midline and that side's parasagittal plane), never both forms.
    """

    CORONAL = "coronal", _("Coronal")
    SAGITTAL = "sagittal", _("Sagittal")
    SAGITTAL_LEFT = "sagittal_left", _("Sagittal, left")
    SAGITTAL_RIGHT = "sagittal_right", _("Sagittal, right")


#: The one-sided sagittal sweeps, which replace a single ``sagittal`` sweep.
SAGITTAL_SIDES: tuple[str, ...] = (Orientation.SAGITTAL_LEFT, Orientation.SAGITTAL_RIGHT)


class ViewChoices(models.TextChoices):
    """The six standard views (``core.labels.View``) as model choices."""

    AHV = "AHV"
    TVV = "TVV"
    BV = "BV"
    MSV = "MSV"
    RPSV = "RPSV"
    LPSV = "LPSV"


def asset_upload_to(instance: Asset, filename: str) -> str:
    # Stored names never carry the uploaded name: it may hold a patient name or date.
    return f"assets/{instance.case.study_id}/{instance.id}"


class Asset(UUIDModel):
    """An uploaded file of a case, kept as received (DICOM after de-identification)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="assets")
    kind = models.CharField(max_length=16, choices=AssetKind.choices)
    orientation = models.CharField(max_length=16, choices=Orientation.choices, blank=True)
    view = models.CharField(max_length=8, choices=ViewChoices.choices, blank=True)
    file = models.FileField(upload_to=asset_upload_to, max_length=255)
    media_format = models.CharField(max_length=16)  # mp4, avi, dicom, png, jpeg
    original_name = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    frame_count = models.PositiveIntegerField(default=1)
    fps = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["case", "kind", "orientation", "view"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind=AssetKind.VIEW_IMAGE) | ~Q(view=""), name="asset_view_needs_label"
            ),
            models.CheckConstraint(
                condition=~Q(kind=AssetKind.SWEEP_VIDEO) | ~Q(orientation=""),
                name="asset_video_needs_orientation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case} {self.kind} {self.orientation or self.view}"
