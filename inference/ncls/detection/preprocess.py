"""One path from a video frame or training image to the detector's input, and back.

Sector crop (:mod:`core.roi`), grey level, then letterbox into the square input
(scale the longer side to ``size``, pad right and bottom with black). Training and
inference both go through :func:`prepare_image`, so the detector never sees anything the
pipeline would not give it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.roi import SectorROI, crop_sector, find_sector, to_gray


@dataclass(frozen=True)
class Letterbox:
    """Geometry from frame pixels to normalised model coordinates."""

    x0: int
    y0: int
    scale: float
    size: int

    def to_model(self, boxes: np.ndarray) -> np.ndarray:
        """Frame-pixel boxes ``(N, 5)`` (degrees) → normalised model boxes (degrees)."""
        out = np.asarray(boxes, dtype=np.float64).copy().reshape(-1, 5)
        out[:, 0] = (out[:, 0] - self.x0) * self.scale / self.size
        out[:, 1] = (out[:, 1] - self.y0) * self.scale / self.size
        out[:, 2:4] = out[:, 2:4] * self.scale / self.size
        return out

    def to_frame(self, boxes: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_model`."""
        out = np.asarray(boxes, dtype=np.float64).copy().reshape(-1, 5)
        out[:, 0] = out[:, 0] * self.size / self.scale + self.x0
        out[:, 1] = out[:, 1] * self.size / self.scale + self.y0
        out[:, 2:4] = out[:, 2:4] * self.size / self.scale
        return out


def sector_of(frames: list[np.ndarray]) -> SectorROI | None:
    """The sector of a video from the pixel-wise maximum of a few frames (None if black)."""
    if not frames:
        return None
    stack = np.max(np.stack([to_gray(f) for f in frames]), axis=0)
    try:
        return find_sector(stack)
    except ValueError:
        return None


def prepare_image(
    image: np.ndarray, size: int, roi: SectorROI | None = None, *, find: bool = True
) -> tuple[np.ndarray, Letterbox]:
    """Grey ``(size, size)`` uint8 input and its :class:`Letterbox`.

    ``roi`` fixes the sector (one per video); with ``find`` and no ``roi`` it is searched in
    this image; without either, the whole image is used.
    """
    gray = to_gray(np.asarray(image))
    if roi is None and find:
        try:
            roi = find_sector(gray)
        except ValueError:
            roi = None
    if roi is not None:
        crop, _ = crop_sector(gray, roi)
        x0, y0 = roi.x0, roi.y0
    else:
        crop, x0, y0 = gray, 0, 0
    h, w = crop.shape[:2]
    scale = size / max(h, w, 1)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    resized = cv2.resize(
        crop, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    )
    canvas = np.zeros((size, size), dtype=np.uint8)
    canvas[:nh, :nw] = resized
    return canvas, Letterbox(x0=x0, y0=y0, scale=scale, size=size)
