"""Ingesting a case's files: validated, de-identified, stored, rendition queued."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils.translation import gettext as _

from config.celery import task_queue_on_commit
from core.files import file_sha256
from trials import media
from trials.audit import audit_record
from trials.models import Asset, AssetKind, AuditAction, Case
from trials.services.cases.case import require_draft_or_open
from trials.services.cases.validation import sagittal_form_conflict, validated_media


@transaction.atomic
def asset_ingest(
    *,
    actor: Any,
    case: Case,
    path: Path,
    kind: str,
    orientation: str = "",
    view: str = "",
    original_name: str = "",
) -> Asset:
    """Validate, de-identify and store one file of a case; its rendition is queued.

    A bad file raises ``ValidationError`` and nothing of it is stored.
    """
    require_draft_or_open(case.study)
    if kind == AssetKind.SWEEP_VIDEO and orientation:
        _check_sagittal_forms(case, orientation)
    try:
        info = validated_media(path, expect="video" if kind == AssetKind.SWEEP_VIDEO else "image")
    except media.MediaError as exc:
        raise ValidationError(
            _("%(name)s: %(problem)s") % {"name": original_name or path.name, "problem": exc}
        ) from exc
    asset = _stored_file(
        Asset(
            case=case,
            kind=kind,
            orientation=orientation,
            view=view,
            media_format=info.kind.value,
            original_name=original_name[:255],
            width=info.width,
            height=info.height,
            frame_count=info.frame_count,
            fps=info.fps,
        ),
        path,
    )
    try:
        asset.save()
        audit_record(
            actor=actor,
            action=AuditAction.ASSET_INGESTED,
            target=asset,
            after={"kind": kind, "orientation": orientation, "view": view, "sha256": asset.sha256},
        )
    except Exception:
        # Nothing of a refused file is kept (the caller's rollback removes the row).
        if asset.file.name:
            asset.file.storage.delete(asset.file.name)
        raise
    task_queue_on_commit("trials.tasks.make_asset_rendition", kwargs={"asset_id": str(asset.pk)})
    return asset


def _check_sagittal_forms(case: Case, orientation: str) -> None:
    """Refuse a sweep that would give the case both sagittal forms (see
    :func:`sagittal_form_conflict`); the case row stays locked until the transaction ends."""
    # The case row is locked so that two uploads cannot add the two sagittal forms.
    Case.objects.select_for_update().filter(pk=case.pk).first()
    present = case.assets.filter(kind=AssetKind.SWEEP_VIDEO).values_list("orientation", flat=True)
    conflict = sagittal_form_conflict([*present, orientation])
    if conflict:
        raise ValidationError({"orientation": conflict})


def _stored_file(asset: Asset, path: Path) -> Asset:
    """Give the unsaved ``asset`` its file: a DICOM de-identified first, hashed, checked and
    written to storage (the row itself is not saved)."""
    with tempfile.TemporaryDirectory() as scratch:
        stored_path = path
        if asset.media_format == "dicom":
            stored_path = Path(scratch) / "deidentified.dcm"
            media.deidentify_dicom(path, stored_path)
        asset.sha256 = file_sha256(stored_path)
        asset.size_bytes = stored_path.stat().st_size
        asset.full_clean(exclude=["file"])
        with stored_path.open("rb") as handle:
            asset.file.save("upload", File(handle), save=False)
    return asset


def copy_upload_to(path: Path, upload: Any) -> Path:
    """Write an uploaded file (Django UploadedFile) to ``path`` in chunks."""
    with path.open("wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    return path
