"""A study (design, status, reading settings), its sites and its datasets."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from trials.models.base import UUIDModel


class StudyDesign(models.TextChoices):
    STANDALONE = "standalone", _("Standalone read")
    ASSISTED_CROSSOVER = "assisted_crossover", _("AI-assisted crossover")
    SOURCE_BLINDED = "source_blinded", _("Blinded randomized source trial")
    QUALITATIVE = "qualitative", _("Qualitative assessment")
    COUNTERBALANCED_CROSSOVER = (
        "counterbalanced_crossover",
        _("Counterbalanced crossover (split-plot)"),
    )


class StudyStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Open")
    LOCKED = "locked", _("Locked")
    UNBLINDED = "unblinded", _("Unblinded")


#: The only status changes a study may make (enforced in services, checked in tests).
STATUS_TRANSITIONS: dict[str, tuple[str, ...]] = {
    StudyStatus.DRAFT: (StudyStatus.OPEN,),
    StudyStatus.OPEN: (StudyStatus.LOCKED,),
    StudyStatus.LOCKED: (StudyStatus.UNBLINDED,),
    StudyStatus.UNBLINDED: (),
}


class Study(UUIDModel):
    """A reader study: its design, its status and the settings readers work under."""

    title = models.CharField(_("title"), max_length=200)
    registry_id = models.CharField(_("registry id"), max_length=64, blank=True)
    design = models.CharField(_("design"), max_length=32, choices=StudyDesign.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=StudyStatus.choices, default=StudyStatus.DRAFT
    )
    washout_days = models.PositiveSmallIntegerField(_("washout (days)"), default=28)
    allow_revisits = models.BooleanField(_("readers may revisit a case"), default=False)
    cine_fps = models.PositiveSmallIntegerField(_("cine frame rate"), default=25)
    #: Readers give a probability-of-severe rating 0–100 besides the yes/no answer; ROC and
    #: MRMC analyses then use the rating (else the binary answer).
    collects_rating = models.BooleanField(
        _("readers give a probability-of-severe rating (0–100)"), default=False
    )
    is_demo = models.BooleanField(_("demo study"), default=False)
    #: Blocks of readers and cases of a counterbalanced crossover (split-plot) study.
    crossover_blocks = models.PositiveSmallIntegerField(
        _("blocks of readers and cases (counterbalanced crossover)"), default=2
    )
    allocation_commitment = models.CharField(max_length=64, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)
    unblinded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name_plural = _("studies")
        constraints = [
            models.CheckConstraint(
                condition=Q(cine_fps__gte=1) & Q(cine_fps__lte=120), name="study_cine_fps_range"
            ),
            models.CheckConstraint(
                condition=Q(crossover_blocks__gte=1) & Q(crossover_blocks__lte=50),
                name="study_crossover_blocks_range",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Site(UUIDModel):
    """A hospital contributing cases to a study."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="sites")
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["study", "name"], name="site_unique_name")]

    def __str__(self) -> str:
        return self.name


class DatasetKind(models.TextChoices):
    INTERNAL = "internal", _("Internal test")
    EXTERNAL = "external", _("External test")
    BLIND_SWEEP = "blind_sweep", _("Blind sweep")


class Dataset(UUIDModel):
    """A set of cases analysed together (internal test, external test, blind sweeps)."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="datasets")
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="datasets", null=True, blank=True
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=DatasetKind.choices)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["study", "name"], name="dataset_unique_name")
        ]

    def __str__(self) -> str:
        return self.name
