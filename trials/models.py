"""Studies, their sites, datasets, cases, files, materials, memberships and audit trail."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.labels import Condition


class UUIDModel(models.Model):
    """A UUID primary key with creation and modification times (grand-challenge style)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


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


class VolpeGrade(models.TextChoices):
    """Volpe's grading of germinal matrix / intraventricular haemorrhage."""

    # xgettext:no-python-format (a label with a per cent sign; never %-formatted)
    GRADE_I = "I", _("I (germinal matrix, IVH < 10 % of the ventricle)")
    GRADE_II = "II", _("II (IVH 10–50 %)")
    GRADE_III = "III", _("III (IVH > 50 %, usually with dilation)")
    GRADE_III_PVI = "III+PVI", _("III with periventricular haemorrhagic infarction")


class GoldStandard(UUIDModel):
    """The reference diagnosis of a case; ``severe`` is derived by the rule, never typed.

    After import it changes only through an amendment (:class:`GoldStandardAmendment`,
    ``trials.services.gold_standards``): audited, with a reason and an electronic signature.
    """

    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="gold_standard")
    conditions = models.JSONField(_("conditions"), default=list)
    ivh_grade = models.PositiveSmallIntegerField(_("IVH grade (Papile)"), null=True, blank=True)
    volpe_grade = models.CharField(
        _("IVH grade (Volpe)"), max_length=8, blank=True, choices=VolpeGrade.choices
    )
    severe = models.BooleanField(_("severe"), editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(ivh_grade__isnull=True) | (Q(ivh_grade__gte=1) & Q(ivh_grade__lte=4)),
                name="gold_ivh_grade_1_4",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case}: {', '.join(self.conditions)}"


class GoldStandardAmendment(UUIDModel):
    """One signed correction of a gold standard: old and new values, reason, signer.

    The same facts are in the audit chain (``gold_standard.amended`` and the
    ``signature.applied`` row before it); this table is their index for pages and API.
    """

    gold_standard = models.ForeignKey(
        GoldStandard, on_delete=models.PROTECT, related_name="amendments"
    )
    amended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(_("reason"))
    before = models.JSONField()
    after = models.JSONField()
    signature_meaning = models.CharField(max_length=16)
    signature_sha256 = models.CharField(max_length=64)
    signed_at = models.DateTimeField()

    class Meta:
        ordering = ["gold_standard", "created"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="gold_amendment_needs_reason"),
        ]

    def __str__(self) -> str:
        return f"amendment of {self.gold_standard}"


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


def rendition_upload_to(instance: Rendition, filename: str) -> str:
    # Opaque, content-free names: nothing in a reader-facing path tells its source.
    ext = "mp4" if instance.kind == RenditionKind.VIDEO else "png"
    return f"renditions/{instance.id.hex}.{ext}"


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


CONDITION_VALUES = [c.value for c in Condition]


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
