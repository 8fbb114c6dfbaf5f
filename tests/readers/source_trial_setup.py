"""A source-blinded study with real sweeps: original videos, AI material, enrolled readers.

The AI's material is built the way the inference app builds it (frames read from the
original asset video, then ``rendition_make_for_view``), with a canary model label and
probability that must never reach a reviewer.
"""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile

from core.video import read_frames
from readers import services
from readers.models import ReaderTier
from tests.media_factories import make_mp4, make_sweep_frames
from tests.readers.factories import (
    CaseFactory,
    DatasetFactory,
    GoldStandardFactory,
    StudyFactory,
    UserFactory,
)
from trials.models import (
    Asset,
    AssetKind,
    Case,
    MaterialSet,
    MaterialSource,
    MaterialStatus,
    Membership,
    Role,
    Study,
    StudyDesign,
    StudyStatus,
)
from trials.services.renditions import local_path, rendition_make_for_asset, rendition_make_for_view

MODEL_LABEL = "NCLS-CanaryModel-v7"
PROBABILITY = 0.8731
FRAMES = 8
#: The AI's picks (0-based) per view; a view the AI could not find is None.
AI_PICKS = {"AHV": 1, "TVV": 3, "BV": 5, "MSV": 2, "RPSV": 4, "LPSV": None}


@cache
def sweep_mp4(seed: int) -> bytes:
    """An 8-frame 320×256 sweep with burned-in text around the fan."""
    with tempfile.TemporaryDirectory() as scratch:
        return make_mp4(Path(scratch) / "s.mp4", make_sweep_frames(FRAMES, seed=seed)).read_bytes()


def sweep_asset_make(case: Case, orientation: str, seed: int) -> Asset:
    data = sweep_mp4(seed)
    asset = Asset(
        case=case,
        kind=AssetKind.SWEEP_VIDEO,
        orientation=orientation,
        media_format="mp4",
        original_name=f"DOE_{orientation}.mp4",
        sha256="0" * 64,
        size_bytes=len(data),
        width=320,
        height=256,
        frame_count=FRAMES,
        fps=25.0,
    )
    asset.file.save("upload", ContentFile(data), save=False)
    asset.save()
    rendition_make_for_asset(asset_id=asset.pk)
    return asset


def ai_material_make(case: Case, assets: dict[str, Asset], *, severe: bool = True) -> MaterialSet:
    """The AI's material as the inference app makes it (frames from the original sweeps)."""
    material = MaterialSet.objects.create(
        case=case,
        source=MaterialSource.AI,
        author_model_id=uuid.uuid4(),
        author_model_label=MODEL_LABEL,
        initial_severe=severe,
        initial_probability=PROBABILITY,
    )
    for view, index in AI_PICKS.items():
        frame = None
        if index is not None:
            orientation = "coronal" if view in ("AHV", "TVV", "BV") else "sagittal"
            with local_path(assets[orientation].file) as path:
                frame = read_frames(path, [index])[index]
        rendition_make_for_view(material_set=material, view=view, frame=frame, frame_index=index)
    material.status = MaterialStatus.COMPLETE
    material.save()
    return material


@dataclass
class SourceTrial:
    study: Study
    coordinator: Any
    statistician: Any
    juniors: list[Any]
    seniors: list[Any]
    cases: list[Case]


def source_trial_study(
    *, prefix: str = "st", n_cases: int = 2, n_juniors: int = 1, n_seniors: int = 1, ai: bool = True
) -> SourceTrial:
    """A draft source-blinded study: cases with real sweeps (and AI material), readers enrolled."""
    study = StudyFactory(
        design=StudyDesign.SOURCE_BLINDED,
        status=StudyStatus.DRAFT,
        title=f"{prefix} blinded source trial",
    )
    coordinator = UserFactory(username=f"{prefix}-coordinator")
    statistician = UserFactory(username=f"{prefix}-statistician")
    Membership.objects.create(study=study, user=coordinator, role=Role.COORDINATOR)
    Membership.objects.create(study=study, user=statistician, role=Role.STATISTICIAN)
    dataset = DatasetFactory(study=study, name=f"{prefix} internal")
    cases = []
    for i in range(n_cases):
        case = CaseFactory(dataset=dataset, study=study, code=f"{prefix.upper()}-CASE-{i:03d}")
        GoldStandardFactory(
            case=case, severe=bool(i % 2), conditions=["hydrocephalus"] if i % 2 else ["normal"]
        )
        assets = {
            o: sweep_asset_make(case, o, seed=10 * i + k)
            for k, o in enumerate(("coronal", "sagittal"))
        }
        if ai:
            ai_material_make(case, assets, severe=bool(i % 2))
        cases.append(case)
    juniors = [UserFactory(username=f"{prefix}-junior{i}") for i in range(n_juniors)]
    seniors = [UserFactory(username=f"{prefix}-senior{i}") for i in range(n_seniors)]
    for user, tier in [
        *((j, ReaderTier.JUNIOR) for j in juniors),
        *((s, ReaderTier.SENIOR) for s in seniors),
    ]:
        services.reader_enrol(
            actor=coordinator, study=study, user=user, tier=tier, years_experience=5
        )
    return SourceTrial(study, coordinator, statistician, juniors, seniors, cases)
