"""Models and their database constraints; status transitions; the derived severe label."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from core.labels import Condition, is_severe
from tests.trials.factories import (
    CaseFactory,
    DatasetFactory,
    GoldStandardFactory,
    StudyFactory,
    UserFactory,
    signature_for,
)
from trials import services
from trials.models import (
    STATUS_TRANSITIONS,
    Asset,
    AssetKind,
    GoldStandard,
    Site,
    StudyStatus,
)
from trials.serializers import CaseCreateSerializer, GoldStandardSerializer

pytestmark = pytest.mark.django_db


def _violates(**fields: object) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        CaseFactory(**fields)


def test_case_constraints_hold_in_the_database() -> None:
    _violates(ga_days=7)
    _violates(ga_weeks=19)
    _violates(apgar_1min=11)
    _violates(excluded=True, exclusion_reason="")
    case = CaseFactory(code="DUP")
    with pytest.raises(IntegrityError), transaction.atomic():
        CaseFactory(code="DUP", dataset=case.dataset)


def test_site_and_dataset_names_are_unique_per_study() -> None:
    dataset = DatasetFactory(name="Internal")
    with pytest.raises(IntegrityError), transaction.atomic():
        DatasetFactory(name="Internal", study=dataset.study)
    DatasetFactory(name="Internal")  # another study may reuse the name
    Site.objects.create(study=dataset.study, name="X")
    with pytest.raises(IntegrityError), transaction.atomic():
        Site.objects.create(study=dataset.study, name="X")


def test_study_frame_rate_range() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        StudyFactory(cine_fps=0)


def test_asset_kind_needs_its_label() -> None:
    case = CaseFactory()
    common = {
        "case": case,
        "media_format": "png",
        "sha256": "0" * 64,
        "size_bytes": 1,
        "width": 1,
        "height": 1,
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        Asset.objects.create(kind=AssetKind.VIEW_IMAGE, view="", file="x", **common)
    with pytest.raises(IntegrityError), transaction.atomic():
        Asset.objects.create(kind=AssetKind.SWEEP_VIDEO, orientation="", file="y", **common)


def test_gold_standard_ivh_grade_range() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        GoldStandardFactory(conditions=["ivh"], ivh_grade=5, severe=True)


# --- status transitions ------------------------------------------------------------------

ALL_STATUSES = list(StudyStatus.values)


@pytest.mark.parametrize("start", ALL_STATUSES)
@pytest.mark.parametrize("to", ALL_STATUSES)
def test_only_forward_transitions_are_allowed(start: str, to: str) -> None:
    study = StudyFactory(status=start)
    allowed = {
        (StudyStatus.DRAFT, StudyStatus.OPEN),
        (StudyStatus.OPEN, StudyStatus.LOCKED),
        (StudyStatus.LOCKED, StudyStatus.UNBLINDED),
    }
    signer = UserFactory()
    if (start, to) in allowed:
        result = services.study_transition(
            actor=signer,
            study=study,
            to=to,
            reason="analysis done",
            signature=signature_for(signer),
        )
        assert result.status == to
    else:
        with pytest.raises(ValidationError):
            services.study_transition(
                actor=signer,
                study=study,
                to=to,
                reason="analysis done",
                signature=signature_for(signer),
            )
        study.refresh_from_db()
        assert study.status == start


def test_transition_table_is_a_single_chain() -> None:
    assert STATUS_TRANSITIONS == {
        "draft": ("open",),
        "open": ("locked",),
        "locked": ("unblinded",),
        "unblinded": (),
    }


def test_unblinding_needs_a_reason_and_stamps_times() -> None:
    study = StudyFactory(status=StudyStatus.LOCKED)
    signer = UserFactory()
    with pytest.raises(ValidationError):
        services.study_transition(
            actor=signer,
            study=study,
            to=StudyStatus.UNBLINDED,
            reason="  ",
            signature=signature_for(signer),
        )
    study = services.study_transition(
        actor=signer,
        study=study,
        to=StudyStatus.UNBLINDED,
        reason="locked, analysed",
        signature=signature_for(signer),
    )
    assert study.unblinded_at is not None


# --- severe is derived, never typed --------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "grade", "severe"),
    [
        (["normal"], None, False),
        (["ivh"], 2, False),
        (["ivh"], 3, True),
        (["ivh", "ventricular_dilation"], 4, True),
        (["pvl"], None, True),
        (["hydrocephalus"], None, True),
        (["ependymal_cyst"], None, False),
        (["ventricular_dilation"], None, False),
    ],
)
def test_case_create_derives_severe(conditions: list[str], grade: int | None, severe: bool) -> None:
    dataset = DatasetFactory()
    case = services.case_create(
        actor=None, dataset=dataset, code="X1", conditions=conditions, ivh_grade=grade
    )
    assert GoldStandard.objects.get(case=case).severe is severe


def test_severe_cannot_be_typed() -> None:
    dataset = DatasetFactory()
    # Not a service argument ...
    with pytest.raises(ValidationError):
        services.case_create(
            actor=None, dataset=dataset, code="X2", conditions=["normal"], severe=True
        )
    # ... not editable in forms or admin ...
    assert GoldStandard._meta.get_field("severe").editable is False
    # ... and read-only in the API: a typed value is ignored.
    assert "severe" in GoldStandardSerializer.Meta.read_only_fields
    serializer = CaseCreateSerializer(
        data={"code": "X3", "dataset": str(dataset.pk), "conditions": ["normal"], "severe": True}
    )
    assert serializer.is_valid(), serializer.errors
    assert "severe" not in serializer.validated_data


def test_inconsistent_gold_standard_is_refused() -> None:
    dataset = DatasetFactory()
    for conditions, grade in (
        (["ivh"], None),
        (["normal"], 3),
        (["normal", "pvl"], None),
        (["tumour"], None),
    ):
        with pytest.raises(ValidationError):
            services.case_create(
                actor=None, dataset=dataset, code="BAD", conditions=conditions, ivh_grade=grade
            )


@settings(max_examples=30, deadline=None)
@given(
    conditions=st.sets(
        st.sampled_from([c.value for c in Condition if c != Condition.NORMAL]), min_size=1
    ),
    grade=st.integers(1, 4),
)
def test_severe_rule_property(conditions: set[str], grade: int) -> None:
    ivh_grade = grade if "ivh" in conditions else None
    expected = bool({"pvl", "hydrocephalus"} & conditions) or ("ivh" in conditions and grade >= 3)
    assert is_severe(conditions, ivh_grade) is expected
