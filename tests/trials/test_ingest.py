"""Ingest through the API: every supported format, a corpus of bad files, DICOM de-identified."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pydicom
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests.media_factories import PHI, PRIVATE_PHI, make_png, truncate
from tests.trials.conftest import FRAME_H, FRAME_W, VIDEO_FRAMES, stored_files
from tests.trials.factories import signature_for
from trials import services
from trials.models import Asset, AssetKind, AuditEvent, Rendition, RenditionStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(coordinator: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(coordinator)
    return client


@pytest.fixture
def case(study: Any, coordinator: Any) -> Any:
    return services.case_create(
        actor=coordinator, dataset=study.datasets.get(), code="K-001", conditions=["normal"]
    )


def _upload(api: APIClient, case: Any, name: str, content: bytes, **fields: str) -> Any:
    url = f"/api/studies/{case.study_id}/cases/{case.pk}/assets/"
    return api.post(url, {"file": SimpleUploadedFile(name, content), **fields}, format="multipart")


VIDEO = {"kind": AssetKind.SWEEP_VIDEO, "orientation": "coronal"}
VIEW = {"kind": AssetKind.VIEW_IMAGE, "view": "AHV"}


@pytest.mark.parametrize(
    ("sample", "fields", "media_format", "frames"),
    [
        ("mp4", VIDEO, "mp4", VIDEO_FRAMES),
        ("avi", VIDEO, "avi", VIDEO_FRAMES),
        ("dicom_multi", VIDEO, "dicom", VIDEO_FRAMES),
        ("dicom_jpeg", VIDEO, "dicom", VIDEO_FRAMES),
        ("dicom_single", VIEW, "dicom", 1),
        ("png", VIEW, "png", 1),
        ("jpeg", VIEW, "jpeg", 1),
    ],
)
def test_every_supported_format_is_ingested_and_rendered(
    api: APIClient,
    case: Any,
    media_samples: dict[str, Path],
    media_root: Path,
    django_capture_on_commit_callbacks: Any,
    sample: str,
    fields: dict[str, str],
    media_format: str,
    frames: int,
) -> None:
    source = media_samples[sample]
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(api, case, f"upload-{source.name}", source.read_bytes(), **fields)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["media_format"], body["frame_count"]) == (media_format, frames)
    assert (body["width"], body["height"]) == (FRAME_W, FRAME_H)
    asset = Asset.objects.get(pk=body["id"])
    # The stored name never carries the uploaded name.
    assert asset.file.name and source.name not in asset.file.name
    assert Path(asset.file.path).is_file()
    assert AuditEvent.objects.filter(action="asset.ingested", target_id=str(asset.pk)).exists()
    rendition = Rendition.objects.get(asset=asset)
    assert rendition.status == RenditionStatus.READY, rendition.error
    assert rendition.content_type == ("video/mp4" if fields is VIDEO else "image/png")
    assert Path(rendition.file.path).read_bytes()[:4] in (
        b"\x89PNG",
        b"\x00\x00\x00\x18",
        b"\x00\x00\x00\x1c",
        b"\x00\x00\x00 ",
    )


def _bad_corpus(samples: dict[str, Path], tmp: Path) -> dict[str, tuple[bytes, dict[str, str]]]:
    def cut(name: str, keep: float = 0.5) -> bytes:
        target = tmp / f"cut-{name}"
        target.write_bytes(samples[name].read_bytes())
        return truncate(target, keep).read_bytes()

    return {
        "empty": (b"", VIEW),
        "empty-video": (b"", VIDEO),
        "truncated-mp4": (cut("mp4"), VIDEO),
        "truncated-avi": (cut("avi"), VIDEO),
        "truncated-dicom": (cut("dicom_multi"), VIDEO),
        "truncated-jpeg-dicom": (cut("dicom_jpeg", 0.7), VIDEO),
        "truncated-png": (cut("png", 0.8), VIEW),
        "truncated-jpeg": (cut("jpeg", 0.6), VIEW),
        "random-bytes": (os.urandom(4096), VIEW),
        "random-bytes-video": (os.urandom(50_000), VIDEO),
        "text": (b"patient,name\nDOE,JANE\n", VIEW),
        "pdf": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", VIEW),
        "gif": (
            b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",
            VIEW,
        ),
        "image-as-video": (samples["png"].read_bytes(), VIDEO),
        "single-frame-dicom-as-video": (samples["dicom_single"].read_bytes(), VIDEO),
        "png-header-only": (samples["png"].read_bytes()[:40], VIEW),
    }


def test_bad_files_get_a_clear_4xx_and_leave_nothing(
    api: APIClient, case: Any, media_samples: dict[str, Path], media_root: Path, tmp_path: Path
) -> None:
    audit_rows = AuditEvent.objects.count()
    for name, (content, fields) in _bad_corpus(media_samples, tmp_path).items():
        response = _upload(api, case, f"{name}.bin", content, **fields)
        assert response.status_code == 400, (name, response.status_code, response.content)
        message = str(response.json())
        assert f"{name}.bin" in message or "file" in message, (name, message)
        assert len(message) > 20, (name, message)
    assert Asset.objects.count() == 0
    assert stored_files(media_root) == []
    assert AuditEvent.objects.count() == audit_rows


def test_oversized_file_is_refused(
    api: APIClient, case: Any, media_samples: dict[str, Path], media_root: Path, settings: Any
) -> None:
    settings.FONTANELLE_MAX_UPLOAD_BYTES = 1024
    response = _upload(api, case, "big.png", media_samples["png"].read_bytes(), **VIEW)
    assert response.status_code == 413  # stopped while streaming in (tests/trials/test_uploads.py)
    assert "larger than the limit of 1.0\xa0KB" in response.json()["detail"]
    assert Asset.objects.count() == 0
    assert stored_files(media_root) == []


def test_missing_labels_are_refused(
    api: APIClient, case: Any, media_samples: dict[str, Path]
) -> None:
    content = media_samples["png"].read_bytes()
    assert _upload(api, case, "v.png", content, kind=AssetKind.VIEW_IMAGE).status_code == 400
    assert _upload(api, case, "v.mp4", content, kind=AssetKind.SWEEP_VIDEO).status_code == 400
    assert Asset.objects.count() == 0


def test_dicom_is_deidentified_on_ingest(
    api: APIClient, case: Any, media_samples: dict[str, Path]
) -> None:
    for sample, fields in (("dicom_jpeg", VIDEO), ("dicom_single", VIEW)):
        original = media_samples[sample].read_bytes()
        assert PHI["PatientName"].encode() in original  # the sample does carry PHI
        response = _upload(api, case, "DOE_JANE_20240301.dcm", original, **fields)
        assert response.status_code == 201, response.content
        asset = Asset.objects.get(pk=response.json()["id"])
        stored = Path(asset.file.path).read_bytes()
        for keyword, value in PHI.items():
            assert value.encode() not in stored, f"{keyword} survived de-identification"
        assert PRIVATE_PHI.encode() not in stored
        ds = pydicom.dcmread(asset.file.path)
        assert ds.PatientIdentityRemoved == "YES"
        assert asset.sha256 != __import__("hashlib").sha256(original).hexdigest()


def test_ingest_refused_once_the_study_is_locked(
    case: Any, coordinator: Any, media_samples: dict[str, Path], media_root: Path
) -> None:
    from django.core.exceptions import ValidationError

    study = case.study
    services.study_transition(actor=coordinator, study=study, to="open")
    services.study_transition(
        actor=coordinator, study=study, to="locked", signature=signature_for(coordinator)
    )
    case.refresh_from_db()
    with pytest.raises(ValidationError):
        services.asset_ingest(
            actor=coordinator,
            case=case,
            path=media_samples["png"],
            kind=AssetKind.VIEW_IMAGE,
            view="AHV",
        )
    assert stored_files(media_root) == []


def test_rendition_keeps_only_the_sector(
    case: Any, coordinator: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    """Burned-in text, bars and scales around the fan never reach a rendition."""
    import numpy as np
    from PIL import Image

    from tests.media_factories import FanGeometry, make_fan_frame

    renditions = []
    for overlays in (True, False):
        frame = make_fan_frame(FRAME_W * 2, FRAME_H * 2, overlays=overlays, seed=11)
        path = make_png(tmp_path / f"frame-{overlays}.png", frame)
        with django_capture_on_commit_callbacks(execute=True):
            asset = services.asset_ingest(
                actor=coordinator, case=case, path=path, kind=AssetKind.VIEW_IMAGE, view="AHV"
            )
        rendition = Rendition.objects.get(asset=asset)
        assert rendition.status == RenditionStatus.READY, rendition.error
        with Image.open(rendition.file.path) as image:
            assert not image.info, image.info  # no text, EXIF or time chunks
            renditions.append(np.asarray(image.convert("L"), dtype=np.int16))
    with_overlays, clean = renditions
    # Same sector, overlays or not: the rendition must be (almost) the same picture.
    differing = np.abs(with_overlays - clean) > 8
    assert differing.mean() < 0.002, differing.mean()
    # And nothing bright lies outside the sector's bounding area (text is near-white).
    geometry = FanGeometry(FRAME_W * 2, FRAME_H * 2)
    assert geometry.mask().any()
    assert with_overlays.max() <= 230  # overlay text is drawn at 235
