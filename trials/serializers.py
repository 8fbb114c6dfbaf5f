"""DRF serializers of the trials app (coordinator and statistician facing)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.labels import Condition
from trials.audit import audit_event_redacted, material_set_redacted
from trials.models import (
    Asset,
    AssetKind,
    AuditEvent,
    Case,
    Dataset,
    DatasetKind,
    GoldStandard,
    GoldStandardAmendment,
    MaterialSet,
    Membership,
    Orientation,
    Rendition,
    Role,
    Site,
    Study,
    StudyDesign,
    StudyStatus,
    ViewChoices,
    VolpeGrade,
)
from trials.signatures import SignatureMeaning


class StudySerializer(serializers.ModelSerializer):
    class Meta:
        model = Study
        fields = [
            "id",
            "title",
            "registry_id",
            "design",
            "status",
            "washout_days",
            "allow_revisits",
            "cine_fps",
            "collects_rating",
            "crossover_blocks",
            "is_demo",
            "allocation_commitment",
            "opened_at",
            "locked_at",
            "unblinded_at",
            "created",
            "modified",
        ]
        read_only_fields = [
            "id",
            "status",
            "is_demo",
            "allocation_commitment",
            "opened_at",
            "locked_at",
            "unblinded_at",
            "created",
            "modified",
        ]


class StudyCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    design = serializers.ChoiceField(choices=StudyDesign.choices)
    registry_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    washout_days = serializers.IntegerField(min_value=0, max_value=365, default=28)
    allow_revisits = serializers.BooleanField(default=False)
    cine_fps = serializers.IntegerField(min_value=1, max_value=120, default=25)
    collects_rating = serializers.BooleanField(
        default=False, help_text=_("readers also give a probability-of-severe rating 0–100")
    )
    crossover_blocks = serializers.IntegerField(min_value=2, max_value=50, default=2)


class StudySettingsSerializer(serializers.Serializer):
    """A draft study's reading settings; fields left out stay as they are."""

    washout_days = serializers.IntegerField(min_value=0, max_value=365, required=False)
    allow_revisits = serializers.BooleanField(required=False)
    cine_fps = serializers.IntegerField(min_value=1, max_value=120, required=False)
    collects_rating = serializers.BooleanField(
        required=False, help_text=_("readers also give a probability-of-severe rating 0–100")
    )
    crossover_blocks = serializers.IntegerField(min_value=2, max_value=50, required=False)


class SignatureInputSerializer(serializers.Serializer):
    """An electronic signature: the signer's password again and its meaning."""

    password = serializers.CharField(
        write_only=True,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text=_("your password, re-entered to sign"),
    )
    meaning = serializers.ChoiceField(choices=SignatureMeaning.choices)


class TransitionSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=StudyStatus.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    password = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        write_only=True,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text=_("locking and unblinding are signed: your password, re-entered"),
    )
    meaning = serializers.ChoiceField(
        choices=SignatureMeaning.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("locking and unblinding are signed: what the signature means"),
    )


class SignatureSerializer(serializers.Serializer):
    """A recorded electronic signature (its row in the audit chain)."""

    event_id = serializers.IntegerField()
    purpose = serializers.CharField()
    signer = serializers.CharField()
    meaning = serializers.CharField()
    meaning_text = serializers.CharField()
    signed_at = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    content_sha256 = serializers.CharField()
    audit_hash = serializers.CharField()


class GoldStandardAmendmentSerializer(serializers.ModelSerializer):
    amended_by = serializers.CharField(source="amended_by.username", read_only=True)

    class Meta:
        model = GoldStandardAmendment
        fields = [
            "id",
            "amended_by",
            "reason",
            "before",
            "after",
            "signature_meaning",
            "signature_sha256",
            "signed_at",
        ]


class GoldStandardSignOffSerializer(SignatureInputSerializer):
    pass


class GoldStandardAmendSerializer(SignatureInputSerializer):
    """New values of a gold standard (omitted ones stay), a reason and a signature."""

    conditions = serializers.ListField(
        child=serializers.ChoiceField(choices=[c.value for c in Condition]), required=False
    )
    ivh_grade = serializers.IntegerField(min_value=1, max_value=4, required=False, allow_null=True)
    volpe_grade = serializers.ChoiceField(
        choices=VolpeGrade.choices, required=False, allow_blank=True
    )
    reason = serializers.CharField()


class SiteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = ["id", "name", "created"]
        read_only_fields = ["id", "created"]


class DatasetSerializer(serializers.ModelSerializer):
    site = serializers.PrimaryKeyRelatedField(
        queryset=Site.objects.all(), allow_null=True, required=False
    )
    kind = serializers.ChoiceField(choices=DatasetKind.choices)
    case_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Dataset
        fields = ["id", "name", "kind", "site", "case_count", "created"]
        read_only_fields = ["id", "created", "case_count"]


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    user = serializers.CharField(write_only=True, help_text=_("username"))
    role = serializers.ChoiceField(choices=Role.choices)

    class Meta:
        model = Membership
        fields = ["id", "user", "username", "role", "created"]
        read_only_fields = ["id", "created", "username"]


class GoldStandardSerializer(serializers.ModelSerializer):
    class Meta:
        model = GoldStandard
        fields = ["conditions", "ivh_grade", "volpe_grade", "severe"]
        read_only_fields = ["severe"]


class RenditionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Rendition
        fields = [
            "id",
            "kind",
            "purpose",
            "orientation",
            "view",
            "status",
            "error",
            "not_obtainable",
            "frame_index",
            "content_type",
            "width",
            "height",
            "frame_count",
            "size_bytes",
            "sha256",
        ]


class AssetSerializer(serializers.ModelSerializer):
    rendition_status = serializers.SerializerMethodField()

    class Meta:
        model = Asset
        fields = [
            "id",
            "kind",
            "orientation",
            "view",
            "media_format",
            "original_name",
            "sha256",
            "size_bytes",
            "width",
            "height",
            "frame_count",
            "fps",
            "rendition_status",
            "created",
        ]

    def get_rendition_status(self, asset: Asset) -> str | None:
        rendition = next((r for r in asset.renditions.all() if r.material_set_id is None), None)
        return rendition.status if rendition else None


class AssetUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    kind = serializers.ChoiceField(choices=AssetKind.choices)
    orientation = serializers.ChoiceField(
        choices=Orientation.choices, required=False, allow_blank=True, default=""
    )
    view = serializers.ChoiceField(
        choices=ViewChoices.choices, required=False, allow_blank=True, default=""
    )

    def validate(self, attrs: dict) -> dict:
        if attrs["kind"] == AssetKind.SWEEP_VIDEO and not attrs["orientation"]:
            raise serializers.ValidationError(
                {"orientation": _("a sweep video needs its orientation")}
            )
        if attrs["kind"] == AssetKind.VIEW_IMAGE and not attrs["view"]:
            raise serializers.ValidationError(
                {"view": _("a standard-view image needs its view label")}
            )
        return attrs


class CaseSerializer(serializers.ModelSerializer):
    dataset = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all())
    gold_standard = GoldStandardSerializer(read_only=True)

    class Meta:
        model = Case
        fields = [
            "id",
            "code",
            "dataset",
            "ga_weeks",
            "ga_days",
            "birth_weight_g",
            "sex",
            "age_at_exam_days",
            "apgar_1min",
            "apgar_5min",
            "probe_type",
            "manufacturer",
            "device_model",
            "transducer_mhz",
            "excluded",
            "exclusion_reason",
            "gold_standard",
            "created",
        ]
        read_only_fields = ["id", "created", "gold_standard", "excluded", "exclusion_reason"]


class CaseCreateSerializer(CaseSerializer):
    conditions = serializers.ListField(
        child=serializers.ChoiceField(choices=[c.value for c in Condition]), write_only=True
    )
    ivh_grade = serializers.IntegerField(
        min_value=1, max_value=4, required=False, allow_null=True, write_only=True
    )
    volpe_grade = serializers.ChoiceField(
        choices=VolpeGrade.choices, required=False, allow_blank=True, default="", write_only=True
    )

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "conditions", "ivh_grade", "volpe_grade"]


class CaseDetailSerializer(CaseSerializer):
    assets = AssetSerializer(many=True, read_only=True)
    renditions = RenditionSerializer(many=True, read_only=True)
    gold_standard_signatures = serializers.SerializerMethodField()
    gold_standard_amendments = serializers.SerializerMethodField()

    class Meta(CaseSerializer.Meta):
        fields = [
            *CaseSerializer.Meta.fields,
            "assets",
            "renditions",
            "gold_standard_signatures",
            "gold_standard_amendments",
        ]

    @extend_schema_field(SignatureSerializer(many=True))
    def get_gold_standard_signatures(self, case: Case) -> list[dict]:
        from trials.signatures import signatures_of

        gold = GoldStandard.objects.filter(case=case).first()
        return [view.as_dict() for view in signatures_of(gold)] if gold else []

    @extend_schema_field(GoldStandardAmendmentSerializer(many=True))
    def get_gold_standard_amendments(self, case: Case) -> list[dict]:
        amendments = (
            GoldStandardAmendment.objects.filter(gold_standard__case=case)
            .select_related("amended_by")
            .order_by("created")
        )
        return list(GoldStandardAmendmentSerializer(amendments, many=True).data)


class MaterialSetSerializer(serializers.ModelSerializer):
    """A material set; with ``study`` in the context, a human's answer is hidden until the lock.

    The rule is the audit trail's (:func:`trials.audit.material_set_redacted`): a junior's
    initial diagnosis and his choice of views (the renditions and their frame indices) are
    ``null`` / ``[]`` and ``redacted`` is true while the study is not locked.
    """

    renditions = RenditionSerializer(many=True, read_only=True)
    redacted = serializers.SerializerMethodField()

    class Meta:
        model = MaterialSet
        fields = [
            "id",
            "case",
            "source",
            "author_user",
            "author_model_label",
            "status",
            "initial_severe",
            "initial_probability",
            "renditions",
            "redacted",
            "created",
        ]

    def _redacted(self, material_set: MaterialSet) -> bool:
        study = self.context.get("study")
        return study is not None and material_set_redacted(material_set, study=study)

    def get_redacted(self, material_set: MaterialSet) -> bool:
        return self._redacted(material_set)

    def to_representation(self, material_set: MaterialSet) -> dict:
        data = super().to_representation(material_set)
        if self._redacted(material_set):
            data |= {"initial_severe": None, "initial_probability": None, "renditions": []}
        return data


class ImportSerializer(serializers.Serializer):
    archive = serializers.FileField(
        help_text=_("a ZIP with manifest.csv at its root and the files it names")
    )
    dry_run = serializers.BooleanField(default=True)


class ExclusionSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class AuditEventSerializer(serializers.ModelSerializer):
    """An audit row; with ``redact_answers`` in the context, readers' answers are left out."""

    redacted = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created",
            "actor",
            "action",
            "target_type",
            "target_id",
            "before",
            "after",
            "reason",
            "prev_hash",
            "hash",
            "redacted",
        ]

    def get_redacted(self, event: AuditEvent) -> bool:
        return self.context.get("redact_answers", False) and audit_event_redacted(event).redacted

    def to_representation(self, event: AuditEvent) -> dict:
        data = super().to_representation(event)
        if self.context.get("redact_answers", False):
            content = audit_event_redacted(event)
            data |= {"before": content.before, "after": content.after, "reason": content.reason}
        return data
