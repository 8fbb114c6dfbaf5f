"""Canonical renditions: every reader-facing image or video goes through here.

AI and human material, standard-view uploads and frames picked from a sweep all reach
readers through :func:`rendition_make_for_view` (images) or :func:`rendition_make_for_asset`
(videos), which call the one pure code path in :mod:`trials.media`. Nothing about a
rendition (name, size, format, metadata) depends on who made the material.

The one exception is an AI explanation overlay (:func:`rendition_make_explanation`):
colour by nature, it belongs to the AI's material set with the purpose ``explanation``,
so nothing that selects a case's own media or a material's views can ever pick it up.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.utils.translation import gettext as _

from trials import media
from trials.audit import audit_record
from trials.models import (
    Asset,
    AssetKind,
    AuditAction,
    MaterialSet,
    MaterialSource,
    Rendition,
    RenditionKind,
    RenditionPurpose,
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
    existing = Rendition.objects.filter(asset=asset, purpose=RenditionPurpose.CASE_MEDIA).first()
    if existing is not None and existing.status == RenditionStatus.READY:
        return existing
    rendition = existing or Rendition(
        case=asset.case,
        asset=asset,
        purpose=RenditionPurpose.CASE_MEDIA,
        kind=RenditionKind.VIDEO if asset.kind == AssetKind.SWEEP_VIDEO else RenditionKind.IMAGE,
        orientation=asset.orientation,
        view=asset.view,
    )
    try:
        with local_path(asset.file) as source:
            # Calibration only from DICOM (the de-identified copy keeps it); other formats
            # carry none, and the caliper then measures in pixels.
            spacing = (
                media.dicom_pixel_spacing_of(source) if asset.media_format == "dicom" else None
            )
            if asset.kind == AssetKind.SWEEP_VIDEO:
                with tempfile.TemporaryDirectory() as scratch:
                    out = Path(scratch) / "rendition.mp4"
                    info = media.render_video(source, out, fps=asset.case.study.cine_fps)
                    data = out.read_bytes()
                content_type, width, height, frames = (
                    "video/mp4",
                    info.width,
                    info.height,
                    info.frame_count,
                )
                rendition.fps, crop = info.fps, info.crop
            else:
                made = media.render_view(media.load_image(source))
                data, content_type, width, height, frames = (
                    made.data,
                    made.content_type,
                    made.width,
                    made.height,
                    1,
                )
                rendition.fps, crop = None, made.crop
            on_canvas = crop.spacing_on_canvas(spacing)
            rendition.pixel_spacing_x_mm, rendition.pixel_spacing_y_mm = on_canvas or (None, None)
    except (media.MediaError, ValueError) as exc:
        rendition.status = RenditionStatus.FAILED
        rendition.error = str(exc)
        rendition.save()
        return rendition
    return _store(
        rendition, data=data, content_type=content_type, width=width, height=height, frames=frames
    )


def _material_set_rendition(material_set: MaterialSet, view: str, purpose: str) -> Rendition:
    """The material set's image rendition of ``view`` for ``purpose``: the stored one, or a new
    (unsaved) one."""
    return Rendition.objects.filter(
        material_set=material_set, view=view, purpose=purpose
    ).first() or Rendition(
        case=material_set.case,
        material_set=material_set,
        purpose=purpose,
        kind=RenditionKind.IMAGE,
        view=view,
    )


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
    rendition = _material_set_rendition(material_set, view, RenditionPurpose.MATERIAL_VIEW)
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


def rendition_make_explanation(
    *, material_set: MaterialSet, view: str, overlay: np.ndarray
) -> Rendition:
    """Store the AI's explanation overlay (an RGB heatmap) of one view of its material set.

    Kept with the material set as an ``explanation``, never as media of the case: only a
    phase that shows the AI openly serves it. Must run inside the transaction that builds
    the material set.
    """
    if material_set.source != MaterialSource.AI:
        raise ValidationError(_("Only the AI's material has explanation overlays."))
    if overlay.ndim != 3 or overlay.shape[2] != 3 or overlay.dtype != np.uint8:
        raise ValidationError(_("An explanation overlay is an RGB image of 8-bit values."))
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValidationError(_("The explanation overlay could not be encoded."))
    rendition = _material_set_rendition(material_set, view, RenditionPurpose.EXPLANATION)
    return _store(
        rendition,
        data=encoded.tobytes(),
        content_type="image/png",
        width=int(overlay.shape[1]),
        height=int(overlay.shape[0]),
        frames=1,
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
