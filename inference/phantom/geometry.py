"""Rotated boxes and the curvilinear sector geometry of the phantom.

Box convention (also in the package README):

* A box is ``(cx, cy, w, h, angle_deg)`` in frame pixels, image axes (x right, y down).
* ``w`` is the long side (``w >= h``); ``angle_deg`` is the direction of that side,
  in degrees in ``[-90, 90)``, **positive = counter-clockwise as seen on screen**
  (a box with ``angle_deg = 30`` has its long side rising to the right).
* The DOTA corners are listed clockwise on screen, starting from the corner that is the
  top-left one of the unrotated box (``angle_deg = 0``), then rotated with the box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np


@dataclass(frozen=True)
class RotatedBox:
    """One rotated box in frame pixels (see the module docstring for the convention)."""

    cx: float
    cy: float
    w: float
    h: float
    angle_deg: float

    def corners(self) -> np.ndarray:
        """The four corners, clockwise on screen from the unrotated top-left one (4×2)."""
        return box_corners(self.cx, self.cy, self.w, self.h, self.angle_deg)


def normalize_box(cx: float, cy: float, w: float, h: float, angle_deg: float) -> RotatedBox:
    """Bring a box to the canonical form: ``w >= h`` and angle in ``[-90, 90)``."""
    if h > w:
        w, h = h, w
        angle_deg += 90.0
    angle = (angle_deg + 90.0) % 180.0 - 90.0
    return RotatedBox(float(cx), float(cy), float(w), float(h), float(angle))


def box_corners(cx: float, cy: float, w: float, h: float, angle_deg: float) -> np.ndarray:
    """Corners of a box, clockwise on screen from the unrotated top-left corner (4×2)."""
    t = math.radians(angle_deg)
    c, s = math.cos(t), math.sin(t)
    local = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    # Counter-clockwise on screen with y pointing down: x' = x c + y s, y' = -x s + y c.
    x = cx + local[:, 0] * c + local[:, 1] * s
    y = cy - local[:, 0] * s + local[:, 1] * c
    return np.stack([x, y], axis=1)


def box_from_points(points: np.ndarray, pad: float = 0.0) -> RotatedBox:
    """Minimum-area rotated box around ``points`` (N×2, x/y pixels), grown by ``pad``."""
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    if len(pts) == 0:
        raise ValueError("cannot box an empty point set")
    corners = cv2.boxPoints(cv2.minAreaRect(pts))
    (cx, cy) = corners.mean(axis=0)
    e1 = corners[1] - corners[0]
    e2 = corners[2] - corners[1]
    w = float(np.hypot(*e1)) + 2 * pad
    h = float(np.hypot(*e2)) + 2 * pad
    angle = math.degrees(math.atan2(-float(e1[1]), float(e1[0])))
    return normalize_box(float(cx), float(cy), w, h, angle)


@dataclass(frozen=True)
class SectorGeometry:
    """A curvilinear sector drawn in a frame: apex above the top edge, rays fanning down.

    ``theta`` is the ray angle from the vertical (positive to the right of the screen);
    ``r`` the distance from the virtual apex in pixels. The probe face is the arc of
    radius ``r0_px`` (short and nearly flat: the fontanelle footprint).
    """

    width: int
    height: int
    apex_x: float
    apex_y: float
    r0_px: float
    depth_px: float
    half_angle_deg: float
    depth_mm: float
    n_depth: int = 256
    n_lines: int = 128

    @property
    def px_per_mm(self) -> float:
        """Pixels per millimetre along depth (the scan-converted image is isotropic)."""
        return self.depth_px / self.depth_mm

    @cached_property
    def depths_mm(self) -> np.ndarray:
        """Depth of each polar sample below the probe face, in millimetres."""
        return np.linspace(0.0, self.depth_mm, self.n_depth)

    @cached_property
    def thetas(self) -> np.ndarray:
        """Angle of each polar line, in radians."""
        a = math.radians(self.half_angle_deg)
        return np.linspace(-a, a, self.n_lines)

    @cached_property
    def polar_pixels(self) -> tuple[np.ndarray, np.ndarray]:
        """Frame pixel coordinates (x, y) of every polar sample, each n_depth × n_lines."""
        r = self.r0_px + self.depths_mm[:, None] * self.px_per_mm
        x = self.apex_x + r * np.sin(self.thetas)[None, :]
        y = self.apex_y + r * np.cos(self.thetas)[None, :]
        return x, y

    @cached_property
    def remap_maps(self) -> tuple[np.ndarray, np.ndarray]:
        """cv2.remap maps from frame pixels to fractional polar indices (−1 outside)."""
        yy, xx = np.mgrid[0 : self.height, 0 : self.width].astype(np.float64)
        dx = xx - self.apex_x
        dy = yy - self.apex_y
        r = np.hypot(dx, dy)
        th = np.arctan2(dx, dy)
        a = math.radians(self.half_angle_deg)
        ri = (r - self.r0_px) / self.depth_px * (self.n_depth - 1)
        ti = (th + a) / (2 * a) * (self.n_lines - 1)
        outside = (ri < 0) | (ri > self.n_depth - 1) | (ti < 0) | (ti > self.n_lines - 1)
        ri[outside] = -10
        ti[outside] = -10
        return ti.astype(np.float32), ri.astype(np.float32)

    @cached_property
    def mask(self) -> np.ndarray:
        """Boolean frame mask of the sector."""
        mx, _ = self.remap_maps
        return mx >= 0

    @cached_property
    def bbox(self) -> tuple[int, int, int, int]:
        """Bounding box ``(x0, y0, x1, y1)`` of the sector mask (x1, y1 exclusive)."""
        ys, xs = np.nonzero(self.mask)
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1

    def scan_convert(self, polar: np.ndarray) -> np.ndarray:
        """Scan-convert a polar image (n_depth × n_lines) into the frame (black outside)."""
        mx, my = self.remap_maps
        return cv2.remap(
            polar,
            mx,
            my,
            interpolation=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )

    def to_dict(self) -> dict[str, float | int]:
        """The geometry as plain numbers, for the truth file."""
        return {
            "width": self.width,
            "height": self.height,
            "apex_x": round(self.apex_x, 3),
            "apex_y": round(self.apex_y, 3),
            "r0_px": round(self.r0_px, 3),
            "depth_px": round(self.depth_px, 3),
            "half_angle_deg": round(self.half_angle_deg, 3),
            "depth_mm": round(self.depth_mm, 3),
            "bbox": list(self.bbox),  # type: ignore[dict-item]
        }


def make_sector(
    width: int,
    height: int,
    *,
    half_angle_deg: float,
    depth_mm: float,
    r0_mm: float,
    top_margin: float = 0.07,
    depth_fraction: float = 0.78,
    side_margin_px: int | None = None,
) -> SectorGeometry:
    """Fit a sector into a frame, leaving black margins for the machine's overlays."""
    if width < 96 or height < 96:
        raise ValueError(f"frame too small for a sector: {width}×{height}")
    top = top_margin * height
    total = depth_fraction * height
    depth_px = total
    scale = depth_px / depth_mm
    r0_px = r0_mm * scale
    a = math.radians(half_angle_deg)
    margin = side_margin_px if side_margin_px is not None else max(30, int(0.055 * width))
    max_half = width / 2 - margin
    if (r0_px + depth_px) * math.sin(a) > max_half:
        half_angle_deg = math.degrees(math.asin(max_half / (r0_px + depth_px)))
    apex_y = top - r0_px * math.cos(math.radians(half_angle_deg))
    return SectorGeometry(
        width=width,
        height=height,
        apex_x=width / 2.0,
        apex_y=apex_y,
        r0_px=r0_px,
        depth_px=depth_px,
        half_angle_deg=half_angle_deg,
        depth_mm=depth_mm,
        n_depth=max(96, min(320, int(depth_px / 1.5))),
        n_lines=max(64, min(160, int(width / 5))),
    )
