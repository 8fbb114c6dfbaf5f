"""Factories of the readers tests: users, studies, cases with renditions, reading sessions.

Renditions carry tiny real files (a PNG without metadata, a few-frame MP4), written the
way the canonical rendition code path names them.
"""

from __future__ import annotations

import io
import tempfile
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import factory
import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from PIL import Image

from readers import services
from readers.models import ReaderTier, ReadingSession
from tests.model_factory import ModelFactory
from trials.models import (
    Asset,
    AssetKind,
    Case,
    Dataset,
    DatasetKind,
    GoldStandard,
    MaterialSet,
    MaterialSource,
    MaterialStatus,
    Membership,
    Rendition,
    RenditionKind,
    RenditionPurpose,
    RenditionStatus,
    Role,
    Study,
    StudyDesign,
    StudyStatus,
)

VIEWS = ("AHV", "TVV", "BV", "MSV", "RPSV", "LPSV")


@cache
def tiny_png(shade: int = 90) -> bytes:
    """A 32×24 grey PNG with no metadata chunks."""
    buffer = io.BytesIO()
    Image.fromarray(np.full((24, 32), shade, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


@cache
def tiny_mp4() -> bytes:
    """A 6-frame 32×24 H.264 MP4."""
    from tests.media_factories import make_mp4

    frames = [np.full((24, 32, 3), 40 + 20 * i, np.uint8) for i in range(6)]
    with tempfile.TemporaryDirectory() as scratch:
        return make_mp4(Path(scratch) / "sweep.mp4", frames, fps=25).read_bytes()


#: The password of every user :class:`UserFactory` makes (signatures re-enter it).
PASSWORD = "a-long-test-password"


class UserFactory(ModelFactory[User]):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password(PASSWORD)


class StudyFactory(ModelFactory[Study]):
    class Meta:
        model = Study

    title = factory.Sequence(lambda n: f"Cranial reading study {n}")
    design = StudyDesign.STANDALONE
    status = StudyStatus.OPEN


class DatasetFactory(ModelFactory[Dataset]):
    class Meta:
        model = Dataset

    study = factory.SubFactory(StudyFactory)
    name = factory.Sequence(lambda n: f"set {n}")
    kind = DatasetKind.INTERNAL


class CaseFactory(ModelFactory[Case]):
    class Meta:
        model = Case

    dataset = factory.SubFactory(DatasetFactory)
    study = factory.SelfAttribute("dataset.study")
    code = factory.Sequence(lambda n: f"CASE-{n:04d}")


class GoldStandardFactory(ModelFactory[GoldStandard]):
    class Meta:
        model = GoldStandard

    case = factory.SubFactory(CaseFactory)
    conditions = factory.LazyFunction(lambda: ["hydrocephalus"])
    volpe_grade = ""
    severe = True


class MaterialSetFactory(ModelFactory[MaterialSet]):
    class Meta:
        model = MaterialSet

    case = factory.SubFactory(CaseFactory)
    source = MaterialSource.AI
    author_model_id = factory.LazyFunction(uuid.uuid4)
    author_model_label = "NCLS-demo-model-v1"
    status = MaterialStatus.COMPLETE
    initial_severe = True
    initial_probability = 0.87


class AssetFactory(ModelFactory[Asset]):
    """An uploaded file of a case (its bytes do not matter: readers get its rendition)."""

    class Meta:
        model = Asset

    case = factory.SubFactory(CaseFactory)
    kind = AssetKind.VIEW_IMAGE
    view = "AHV"
    file = factory.LazyFunction(lambda: ContentFile(b"upload", name="upload"))
    media_format = "png"
    sha256 = "0" * 64
    size_bytes = 6
    width = 32
    height = 24


def _asset_of(rendition: Any) -> Asset | None:
    # A case's own media is always the rendition of one of its uploaded assets.
    if rendition.material_set is not None:
        return None
    if rendition.kind == RenditionKind.VIDEO:
        return AssetFactory(
            case=rendition.case,
            kind=AssetKind.SWEEP_VIDEO,
            view="",
            orientation=rendition.orientation or "coronal",
            media_format="mp4",
        )
    return AssetFactory(case=rendition.case, view=rendition.view or "AHV")


class RenditionFactory(ModelFactory[Rendition]):
    class Meta:
        model = Rendition

    case = factory.SubFactory(CaseFactory)
    material_set = None
    asset = factory.LazyAttribute(_asset_of)
    purpose = factory.LazyAttribute(
        lambda o: (
            RenditionPurpose.MATERIAL_VIEW
            if o.material_set is not None
            else RenditionPurpose.CASE_MEDIA
        )
    )
    kind = RenditionKind.IMAGE
    status = RenditionStatus.READY
    file = factory.LazyAttribute(
        lambda o: ContentFile(
            tiny_mp4() if o.kind == RenditionKind.VIDEO else tiny_png(), name="rendition"
        )
    )
    content_type = factory.LazyAttribute(
        lambda o: "video/mp4" if o.kind == RenditionKind.VIDEO else "image/png"
    )
    width = 32
    height = 24


def case_with_media(*, dataset: Dataset, code: str, ai: bool = True, **gold: Any) -> Case:
    """A case with its gold standard, six view images, two sweeps and (optionally) AI material."""
    case = CaseFactory(dataset=dataset, study=dataset.study, code=code)
    GoldStandardFactory(case=case, **gold)
    for view in VIEWS:
        RenditionFactory(case=case, kind=RenditionKind.IMAGE, view=view)
    for orientation in ("coronal", "sagittal"):
        RenditionFactory(case=case, kind=RenditionKind.VIDEO, orientation=orientation)
    if ai:
        material = MaterialSetFactory(case=case)
        for view in VIEWS:
            RenditionFactory(
                case=case,
                material_set=material,
                kind=RenditionKind.IMAGE,
                view=view,
                not_obtainable=view == "LPSV",
                file=None if view == "LPSV" else ContentFile(tiny_png(120), name="r"),
            )
    return case


@dataclass
class ReadingStudy:
    """A study ready for reading: coordinator, readers, cases and sessions."""

    study: Study
    coordinator: Any
    readers: list[Any]
    cases: list[Case]
    sessions: list[ReadingSession] = field(default_factory=list)

    def session_of(self, reader: Any, phase: str = "unaided") -> ReadingSession:
        return ReadingSession.objects.get(study=self.study, reader=reader, phase=phase)


def reading_study(
    *,
    design: str = StudyDesign.STANDALONE,
    n_cases: int = 3,
    n_readers: int = 1,
    prefix: str = "s",
    washout_days: int = 28,
    allow_revisits: bool = False,
    ai: bool = True,
    seed: int = 7,
    **study_fields: Any,
) -> ReadingStudy:
    """Build a study of ``design`` with enrolled readers and their sessions."""
    study = StudyFactory(
        design=design, washout_days=washout_days, allow_revisits=allow_revisits, **study_fields
    )
    coordinator = UserFactory(username=f"{prefix}-coordinator")
    Membership.objects.create(study=study, user=coordinator, role=Role.COORDINATOR)
    dataset = DatasetFactory(study=study, name=f"{prefix} internal")
    cases = [
        case_with_media(dataset=dataset, code=f"{prefix.upper()}-CODE-{i:03d}", ai=ai)
        for i in range(n_cases)
    ]
    readers = [UserFactory(username=f"{prefix}-reader{i}") for i in range(n_readers)]
    for reader in readers:
        services.reader_enrol(
            actor=coordinator, study=study, user=reader, tier=ReaderTier.JUNIOR, years_experience=3
        )
    sessions = services.session_create_for_design(actor=coordinator, study=study, seed=seed)
    return ReadingStudy(study, coordinator, readers, cases, sessions)
