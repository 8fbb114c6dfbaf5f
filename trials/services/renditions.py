"""Canonical renditions: every reader-facing image or video goes through here.

AI and human material, standard-view uploads and frames picked from a sweep all reach
readers through :func:`rendition_make_for_view` (images) or :func:`rendition_make_for_asset`
(videos), which call the one pure code path in :mod:`trials.media`. Nothing about a
rendition (name, size, format, metadata) depends on who made the material.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models.fields.files import FieldFile

from trials import media
from trials.audit import audit_record
from trials.models import (
    Asset,
    AssetKind,
    AuditAction,
    MaterialSet,
    Rendition,
    RenditionKind,
    RenditionStatus,
)


@contextlib.contextmanager
def local_path(field_file: FieldFile) -> Iterator[Path]:
    """A local filesystem path for a stored file, copied out of remote storages."""
    try:
        yield Path(field_file.path)
        return
    except NotImplementedError:
        pass
    with tempfile.NamedTemporaryFile(suffix=".bin") as handle:
        with field_file.open("rb") as source:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                handle.write(chunk)
        handle.flush()
        yield Path(handle.name)


def rendition_make_for_asset(*, asset_id: Any) -> Rendition:
    """Make (once) the canonical rendition of an uploaded video or view image.

    Idempotent: a ready rendition is returned as it is; a failed one is retried.
    """
    asset = Asset.objects.select_related("case__study").get(pk=asset_id)
    existing = Rendition.objects.filter(asset=asset, material_set__isnull=True).first()
    if existing is not None and existing.status == RenditionStatus.READY:
        return existing
    rendition = existing or Rendition(
        case=asset.case,
        asset=asset,
        kind=RenditionKind.VIDEO if asset.kind == AssetKind.SWEEP_VIDEO else RenditionKind.IMAGE,
        orientation=asset.orientation,
        view=asset.view,
    )
    try:
        with local_path(asset.file) as source:
            if asset.kind == AssetKind.SWEEP_VIDEO:
                with tempfile.TemporaryDirectory() as scratch:
                    out = Path(scratch) / "rendition.mp4"
                    info = media.render_video(source, out, fps=asset.case.study.cine_fps)
                    data = out.read_bytes()
                content_type, width, height, frames = "video/mp4", info.width, info.height, info.frame_count
            else:
                made = media.render_view(media.load_image(source))
                data, content_type, width, height, frames = (
                    made.data, made.content_type, made.width, made.height, 1,
                )
    except (media.MediaError, ValueError) as exc:
        rendition.status = RenditionStatus.FAILED
        rendition.error = str(exc)
        rendition.save()
        return rendition
    return _store(rendition, data=data, content_type=content_type, width=width, height=height, frames=frames)


def rendition_make_for_view(
    *,
    material_set: MaterialSet,
    view: str,
    frame: np.ndarray | None,
    frame_index: int | None = None,
    actor: Any = None,
) -> Rendition:
    """The canonical rendition of one standard view of a material set.

    ``frame`` is the picked image (from a sweep or an upload); ``None`` records the view
    as not obtainable. Must run inside the transaction that builds the material set.
    """
    rendition = Rendition.objects.filter(material_set=material_set, view=view).first() or Rendition(
        case=material_set.case,
        material_set=material_set,
        kind=RenditionKind.IMAGE,
        view=view,
    )
    rendition.frame_index = frame_index
    if frame is None:
        rendition.not_obtainable = True
        rendition.status = RenditionStatus.READY
        rendition.save()
        return rendition
    made = media.render_view(frame)
    return _store(
        rendition,
        data=made.data,
        content_type=made.content_type,
        width=made.width,
        height=made.height,
        frames=1,
        actor=actor,
    )


def _store(
    rendition: Rendition,
    *,
    data: bytes,
    content_type: str,
    width: int,
    height: int,
    frames: int,
    actor: Any = None,
) -> Rendition:
    with transaction.atomic():
        if rendition.file:
            rendition.file.delete(save=False)
        rendition.file.save("rendition", ContentFile(data), save=False)
        rendition.content_type = content_type
        rendition.sha256 = hashlib.sha256(data).hexdigest()
        rendition.size_bytes = len(data)
        rendition.width, rendition.height, rendition.frame_count = width, height, frames
        rendition.status = RenditionStatus.READY
        rendition.error = ""
        rendition.save()
        audit_record(
            actor=actor,
            action=AuditAction.RENDITION_MADE,
            target=rendition,
            after={"sha256": rendition.sha256, "kind": rendition.kind},
        )
    return rendition
