"""Fixtures of the trials tests: media samples, archives, studies, the two-studies world."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.media_factories import (
    make_avi,
    make_dicom_cine,
    make_fan_frame,
    make_jpeg,
    make_mp4,
    make_png,
    make_sweep_frames,
)
from tests.trials.factories import UserFactory
from trials import services
from trials.models import DatasetKind, Role, StudyDesign

FRAME_W, FRAME_H = 192, 144
VIDEO_FRAMES = 6


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    """Every trials test stores its files in its own MEDIA_ROOT (checked for leftovers)."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


def stored_files(root: Path) -> list[Path]:
    """Every file under a media root."""
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.fixture(scope="session")
def media_samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small file of every supported format (made once per test session)."""
    out = tmp_path_factory.mktemp("media-samples")
    frames = make_sweep_frames(VIDEO_FRAMES, FRAME_W, FRAME_H, seed=3)
    still = make_fan_frame(FRAME_W, FRAME_H, seed=5)
    return {
        "mp4": make_mp4(out / "sweep.mp4", frames),
        "avi": make_avi(out / "sweep.avi", frames),
        "dicom_single": make_dicom_cine(out / "single.dcm", [still], jpeg=False),
        "dicom_multi": make_dicom_cine(out / "multi.dcm", frames, jpeg=False, color=False),
        "dicom_jpeg": make_dicom_cine(out / "multi-jpeg.dcm", frames, jpeg=True),
        "png": make_png(out / "view.png", still),
        "jpeg": make_jpeg(out / "view.jpg", still),
    }


@pytest.fixture
def still_frame() -> np.ndarray:
    return make_fan_frame(FRAME_W, FRAME_H, seed=5)


MANIFEST_HEADER = [
    "code",
    "dataset",
    "dataset_kind",
    "site",
    "ga_weeks",
    "ga_days",
    "birth_weight_g",
    "sex",
    "conditions",
    "ivh_grade",
    "excluded",
    "exclusion_reason",
    "video_coronal",
    "video_sagittal",
    "view_AHV",
    "view_MSV",
]


def manifest_row(code: str, **overrides: str) -> dict[str, str]:
    """A valid manifest row (no files) with ``overrides``."""
    row = {
        "code": code,
        "dataset": "Internal test",
        "dataset_kind": DatasetKind.INTERNAL,
        "site": "Hospital A",
        "ga_weeks": "31",
        "ga_days": "3",
        "birth_weight_g": "1500",
        "sex": "F",
        "conditions": "normal",
        "ivh_grade": "",
        "excluded": "0",
        "exclusion_reason": "",
        "video_coronal": "",
        "video_sagittal": "",
        "view_AHV": "",
        "view_MSV": "",
    }
    row.update(overrides)
    return row


def write_manifest(
    folder: Path, rows: Iterable[dict[str, str]], header: list[str] | None = None
) -> Path:
    """Write manifest.csv into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header or MANIFEST_HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path


def zip_bytes(rows: Iterable[dict[str, str]], files: dict[str, Path | bytes]) -> bytes:
    """A ZIP of manifest.csv and ``files`` (archive name -> path or bytes)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_HEADER)
    writer.writeheader()
    writer.writerows(rows)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("manifest.csv", buffer.getvalue())
        for name, content in files.items():
            archive.writestr(name, content if isinstance(content, bytes) else content.read_bytes())
    return out.getvalue()


@pytest.fixture
def case_archive(media_samples: dict[str, Path]) -> Callable[..., bytes]:
    """Build a ZIP with ``n`` cases, each with two videos and two view images."""

    def build(
        n: int = 2, *, prefix: str = "CASE", extra_rows: Iterable[dict[str, str]] = ()
    ) -> bytes:
        rows = [
            manifest_row(
                f"{prefix}{i:03d}",
                conditions="ivh" if i % 2 else "normal",
                ivh_grade="3" if i % 2 else "",
                video_coronal="media/cor.mp4",
                video_sagittal="media/sag.avi",
                view_AHV="media/ahv.png",
                view_MSV="media/msv.jpg",
            )
            for i in range(n)
        ]
        rows.extend(extra_rows)
        files: dict[str, Path | bytes] = {
            "media/cor.mp4": media_samples["mp4"],
            "media/sag.avi": media_samples["avi"],
            "media/ahv.png": media_samples["png"],
            "media/msv.jpg": media_samples["jpeg"],
        }
        return zip_bytes(rows, files)

    return build


@pytest.fixture
def coordinator(db: None) -> Any:
    return UserFactory(username="coord")


@pytest.fixture
def study(coordinator: Any) -> Any:
    """A draft study made through the service (its creator is coordinator), with a dataset."""
    study = services.study_create(
        actor=coordinator, title="NCLS pilot", design=StudyDesign.STANDALONE
    )
    site = services.site_create(actor=coordinator, study=study, name="Hospital A")
    services.dataset_create(
        actor=coordinator, study=study, name="Internal test", kind=DatasetKind.INTERNAL, site=site
    )
    return study


@dataclass
class TwoStudies:
    """Study A with its coordinator and a case; study B with its own members."""

    study_a: Any
    coordinator_a: Any
    case_a: Any
    rendition_a: Any
    study_b: Any
    coordinator_b: Any
    reader_b: Any
    statistician_b: Any


@pytest.fixture
def two_studies(db: None, media_samples: dict[str, Path]) -> TwoStudies:
    """Two studies; members of B must see nothing of A."""
    from trials.models import AssetKind, Rendition

    coordinator_a = UserFactory(username="coord-a")
    study_a = services.study_create(
        actor=coordinator_a, title="Study A", design=StudyDesign.STANDALONE
    )
    dataset_a = services.dataset_create(
        actor=coordinator_a, study=study_a, name="A internal", kind=DatasetKind.INTERNAL
    )
    case_a = services.case_create(
        actor=coordinator_a, dataset=dataset_a, code="A-001", conditions=["pvl"]
    )
    asset = services.asset_ingest(
        actor=coordinator_a,
        case=case_a,
        path=media_samples["png"],
        kind=AssetKind.VIEW_IMAGE,
        view="AHV",
    )
    services.rendition_make_for_asset(asset_id=asset.pk)
    coordinator_b = UserFactory(username="coord-b")
    reader_b = UserFactory(username="reader-b")
    statistician_b = UserFactory(username="stat-b")
    study_b = services.study_create(
        actor=coordinator_b, title="Study B", design=StudyDesign.STANDALONE
    )
    services.membership_add(actor=coordinator_b, study=study_b, user=reader_b, role=Role.READER)
    services.membership_add(
        actor=coordinator_b, study=study_b, user=statistician_b, role=Role.STATISTICIAN
    )
    return TwoStudies(
        study_a=study_a,
        coordinator_a=coordinator_a,
        case_a=case_a,
        rendition_a=Rendition.objects.get(asset=asset),
        study_b=study_b,
        coordinator_b=coordinator_b,
        reader_b=reader_b,
        statistician_b=statistician_b,
    )
