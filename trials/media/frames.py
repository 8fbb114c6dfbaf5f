"""Decode one frame of any accepted file into an array the renditions take."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trials.media.errors import MediaError
from trials.media.kinds import DEFAULT_MAX_BYTES, MediaKind, detect_kind


def load_image(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
    """The picture of a standard-view file (PNG, JPEG or single-frame DICOM) as RGB uint8.

    A multi-frame DICOM or a video gives its first frame; use :func:`load_frame` to pick
    another one.
    """
    return load_frame(path, 0, max_bytes=max_bytes)


def load_frame(
    path: str | Path, index: int = 0, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> np.ndarray:
    """Frame ``index`` of any accepted file as an RGB uint8 H×W×3 array.

    Raises
    ------
    MediaError
        If the file is not accepted (see :func:`~trials.media.detect_kind`), does not
        decode, or has no frame ``index``.
    """
    path = Path(path)
    kind = detect_kind(path, max_bytes=max_bytes)
    if kind in (MediaKind.PNG, MediaKind.JPEG):
        if index != 0:
            raise MediaError(f"a still image has no frame {index}", code="invalid")
        return _load_still(path, kind)
    from core.video import VideoError, read_frames

    try:
        return read_frames(path, [index])[index]
    except VideoError as exc:
        raise MediaError(f"the file cannot be decoded: {exc.reason}", code="undecodable") from exc


def _load_still(path: Path, kind: MediaKind) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            # Honour a camera's EXIF orientation, then forget every other tag.
            upright = ImageOps.exif_transpose(image)
            return np.asarray(upright.convert("RGB"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MediaError(
            f"the {kind.value.upper()} image cannot be decoded (damaged or truncated)",
            code="undecodable",
        ) from exc
