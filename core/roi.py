"""The ultrasound sector as the largest connected non-black region of a frame.

Shared by the NCLS pipeline and by the platform's canonical renditions, so that a
material's crop is computed by one code path whoever made it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Grey level at or below which a pixel counts as background.
BLACK_LEVEL = 8


@dataclass(frozen=True)
class SectorROI:
    """Where the sector lies in the original frame: its bounding box and pixel mask."""

    x0: int
    y0: int
    x1: int
    y1: int
    mask: np.ndarray  # bool, frame-sized

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def to_frame(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map crop coordinates back to frame coordinates."""
        return x + self.x0, y + self.y0


def to_gray(frame: np.ndarray) -> np.ndarray:
    """Grey level of a frame (H×W or H×W×3 in RGB order)."""
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_RGBA2GRAY)
    raise ValueError(f"frame must be H×W or H×W×3/4, got shape {frame.shape}")


def find_sector(frame: np.ndarray, *, black_level: int = BLACK_LEVEL) -> SectorROI:
    """Return the largest connected non-black region of ``frame``.

    Thin text, scale ticks and grey bars are separated from the sector by black gaps, so
    they form their own (smaller) components. A morphological opening first cuts thin
    bridges (a text line touching the fan) so they cannot join the sector.
    """
    gray = to_gray(np.asarray(frame))
    if gray.size == 0:
        raise ValueError("empty frame")
    foreground: np.ndarray = (gray > black_level).astype(np.uint8)
    # Speckle leaves dark holes inside the sector; close them, then cut thin bridges.
    foreground = cv2.morphologyEx(foreground, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    foreground = cv2.morphologyEx(foreground, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(foreground, connectivity=8)
    if count <= 1:
        raise ValueError("no ultrasound sector found: the frame is black")
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    mask = labels == largest
    # Text drawn within a pixel or two of the fan joins it (and the closing above turns a
    # word into a solid blob); an opening wider than a text line detaches it. The
    # sector is nearly convex, so the opening only rounds its two top corners slightly.
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (17, 17))
    core = cv2.dilate(
        cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, kernel), np.ones((3, 3), np.uint8)
    )
    if core.any():
        mask &= core.astype(bool)
    ys, xs = np.nonzero(mask)
    x, y, w, h = (
        int(xs.min()),
        int(ys.min()),
        int(xs.max() - xs.min() + 1),
        int(ys.max() - ys.min() + 1),
    )
    # Fill holes inside the sector (anechoic fluid can be black).
    filled = mask.astype(np.uint8)
    contours, _ = cv2.findContours(filled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return SectorROI(x0=x, y0=y, x1=x + w, y1=y + h, mask=filled.astype(bool))


def crop_sector(frame: np.ndarray, roi: SectorROI | None = None) -> tuple[np.ndarray, SectorROI]:
    """Keep only the sector: everything outside its mask is set to black, then cropped."""
    roi = roi or find_sector(frame)
    cleaned = np.where(roi.mask[..., None] if frame.ndim == 3 else roi.mask, frame, 0)
    return cleaned[roi.y0 : roi.y1, roi.x0 : roi.x1].astype(frame.dtype), roi
