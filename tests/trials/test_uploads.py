"""Uploads over FONTANELLE_MAX_UPLOAD_BYTES are refused before they are stored whole.

A declared length over the limit is refused before the body is read; a body that passes
that check is stopped by the first upload handler once its files pass the limit, so the
handlers that store uploads (memory, temporary file) never receive more than the limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.test import Client
from rest_framework.test import APIClient

from trials import services
from trials.models import Asset

pytestmark = pytest.mark.django_db

LIMIT = 200_000


@pytest.fixture
def stored(monkeypatch: Any, settings: Any) -> list[int]:
    """Bytes written to temporary upload files (every upload here is larger than the memory
    threshold, so the temporary-file handler stores it)."""
    settings.FONTANELLE_MAX_UPLOAD_BYTES = LIMIT
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10_000
    received: list[int] = []
    original = TemporaryFileUploadHandler.receive_data_chunk

    def spy(self: Any, raw_data: bytes, start: int) -> Any:
        received.append(len(raw_data))
        return original(self, raw_data, start)

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", spy)
    return received


@pytest.fixture
def case(study: Any, coordinator: Any) -> Any:
    return services.case_create(
        actor=coordinator, dataset=study.datasets.get(), code="U-001", conditions=["normal"]
    )


def _asset_upload(case: Any, coordinator: Any, content: bytes) -> Any:
    api = APIClient()
    api.force_authenticate(coordinator)
    url = f"/api/studies/{case.study_id}/cases/{case.pk}/assets/"
    return api.post(
        url,
        {
            "file": SimpleUploadedFile("sweep.mp4", content),
            "kind": "sweep_video",
            "orientation": "coronal",
        },
        format="multipart",
    )


def _page_import(study: Any, coordinator: Any, content: bytes) -> Any:
    client = Client()
    client.force_login(coordinator)
    return client.post(
        f"/studies/{study.pk}/import/",
        {"archive": SimpleUploadedFile("cases.zip", content), "dry_run": "on"},
    )


def test_an_asset_over_the_limit_is_refused_before_its_body_is_read(
    stored: list[int], case: Any, coordinator: Any
) -> None:
    response = _asset_upload(case, coordinator, b"\0" * (3 * LIMIT))
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]
    assert stored == [] and not Asset.objects.exists()


def test_an_archive_over_the_limit_is_refused_by_the_import_page(
    stored: list[int], study: Any, coordinator: Any
) -> None:
    response = _page_import(study, coordinator, b"PK" + b"\0" * (3 * LIMIT))
    assert response.status_code == 413
    assert "larger than" in response.content.decode() and "<html" in response.content.decode()
    assert stored == []


@pytest.mark.parametrize("upload", ["asset", "page"])
def test_an_upload_just_over_the_limit_is_stopped_at_the_limit(
    stored: list[int], study: Any, case: Any, coordinator: Any, upload: str
) -> None:
    """Its declared length passes the first check (form fields need room); the stream does not."""
    content = b"\0" * (LIMIT + 1000)
    if upload == "asset":
        response = _asset_upload(case, coordinator, content)
        assert "larger than" in response.json()["detail"]
    else:
        response = _page_import(study, coordinator, content)
        assert "larger than" in response.content.decode()
    assert response.status_code == 413
    assert 0 < sum(stored) <= LIMIT
    assert not Asset.objects.exists()


def test_an_upload_within_the_limit_is_accepted(
    stored: list[int], case: Any, coordinator: Any, media_samples: dict[str, Path], settings: Any
) -> None:
    content = media_samples["mp4"].read_bytes()
    settings.FONTANELLE_MAX_UPLOAD_BYTES = len(content)  # exactly at the limit
    response = _asset_upload(case, coordinator, content)
    assert response.status_code == 201, response.content
    assert sum(stored) == len(content)
