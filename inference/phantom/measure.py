"""Measurements that compare phantom sweeps with real ones (DESIGN.md's envelope).

Why a module of its own: the same figures are wanted for phantom output and for a real
video a user has (the sector is found from the pixels when no geometry is known), and the
tests that hold the phantom to the envelope must measure exactly what the README reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import cv2
import numpy as np

#: Grey level at or below which a pixel counts as black background (as core.roi).
BLACK_LEVEL = 8
#: Below this grey level a sector pixel counts as fluid (DESIGN.md's "darker than 30").
DARK_LEVEL = 30


@dataclass(frozen=True)
class SectorStatistics:
    """Grey statistics inside the sector of a sweep (DESIGN.md's envelope in comments)."""

    mean: float  # 63–100
    sd: float  # 44–58
    median: float  # 53–95
    dark_fraction: float  # 0.07–0.35 of pixels darker than 30
    fill_fraction: float  # 0.28–0.41 of the frame
    temporal_change: float  # 3.4–4.9 (5.5 in issue 15) mean |frame(t+1) − frame(t)|

    def to_dict(self) -> dict[str, float]:
        """Rounded plain numbers, for reports."""
        return {k: round(float(v), 3) for k, v in vars(self).items()}


def sector_mask(frames: np.ndarray) -> np.ndarray:
    """The sector: the largest connected non-black region of the frames' maximum.

    Burned-in text and marks are kept a few pixels away from the fan on scanners (and in
    the phantom), so they form separate, smaller regions and are left out.
    """
    grey = _grey(frames)
    peak = grey.max(axis=0) if grey.ndim == 3 else grey
    binary = (peak > BLACK_LEVEL).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n < 2:
        raise ValueError("no non-black region: not an ultrasound sweep")
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    mask = labels == largest
    # Fill the holes that anechoic (black) fluid leaves inside the fan.
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros(mask.shape, np.uint8)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled.astype(bool)


def _grey(frames: np.ndarray) -> np.ndarray:
    """Grey frames (T, H, W) from grey or RGB input."""
    arr = np.asarray(frames)
    if arr.ndim == 4:
        arr = arr.mean(axis=3)
    return arr


def temporal_change(frames: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute grey difference between consecutive frames inside the sector.

    ``frames``: (T, H, W) grey or (T, H, W, 3); ``mask``: the sector (found from the
    pixels with :func:`sector_mask` when not given). Measured inside the sector because
    the black background and static overlays would dilute it by the sector's fill fraction.
    """
    grey = _grey(frames)
    if grey.ndim != 3 or grey.shape[0] < 2:
        raise ValueError("temporal change needs at least two frames (T, H, W)")
    region = sector_mask(grey) if mask is None else mask
    total = 0.0
    for a, b in pairwise(grey):
        total += float(np.abs(b[region].astype(np.float32) - a[region].astype(np.float32)).mean())
    return total / (grey.shape[0] - 1)


def sector_statistics(frames: np.ndarray, mask: np.ndarray | None = None) -> SectorStatistics:
    """Grey statistics, fill fraction and temporal change of a sweep inside its sector."""
    grey = _grey(frames)
    region = sector_mask(grey) if mask is None else mask
    inside = grey[:, region].astype(np.float64)
    return SectorStatistics(
        mean=float(inside.mean()),
        sd=float(inside.std()),
        median=float(np.median(inside)),
        dark_fraction=float((inside < DARK_LEVEL).mean()),
        fill_fraction=float(region.mean()),
        temporal_change=temporal_change(grey, region),
    )
