"""Painting tissue labels into boxes of the voxel volume."""

from __future__ import annotations

import math

import numpy as np

from inference.phantom.anatomy.tissue import Tissue


class Painter:
    """Writes labels into sub-boxes of the volume; later paint wins."""

    def __init__(self, labels: np.ndarray, origin: np.ndarray, voxel: float) -> None:
        """Paint into ``labels`` whose voxel (0, 0, 0) lies at ``origin`` (mm)."""
        self.labels = labels
        self.origin = origin
        self.voxel = voxel
        self.axes = [origin[i] + voxel * np.arange(labels.shape[i]) for i in range(3)]

    def _window(self, lo: np.ndarray, hi: np.ndarray) -> tuple[slice, slice, slice] | None:
        """Index slices of the voxels between two corners (mm); None if empty."""
        sl = []
        for i in range(3):
            a = int(np.searchsorted(self.axes[i], lo[i], side="left"))
            b = int(np.searchsorted(self.axes[i], hi[i], side="right"))
            if b <= a:
                return None
            sl.append(slice(a, b))
        return sl[0], sl[1], sl[2]

    def local(
        self, center: np.ndarray, half: np.ndarray
    ) -> tuple[tuple[slice, slice, slice], np.ndarray, np.ndarray, np.ndarray] | None:
        """Window around a box and the local coordinates (broadcastable) inside it."""
        win = self._window(center - half, center + half)
        if win is None:
            return None
        dx = self.axes[0][win[0]][:, None, None] - center[0]
        dy = self.axes[1][win[1]][None, :, None] - center[1]
        dz = self.axes[2][win[2]][None, None, :] - center[2]
        return win, dx, dy, dz

    def ellipsoid(
        self,
        center: np.ndarray,
        semi: tuple[float, float, float],
        label: Tissue,
        *,
        tilt_deg: float = 0.0,
        only: tuple[Tissue, ...] | None = None,
        keep: tuple[Tissue, ...] | None = None,
    ) -> None:
        """Paint an ellipsoid, optionally tilted about the y axis (lateral end down)."""
        r = max(semi)
        got = self.local(center, np.array([r, r, r]) + self.voxel)
        if got is None:
            return
        win, dx, dy, dz = got
        if tilt_deg:
            t = math.radians(tilt_deg)
            dx, dz = dx * math.cos(t) - dz * math.sin(t), dx * math.sin(t) + dz * math.cos(t)
        inside = (dx / semi[0]) ** 2 + (dy / semi[1]) ** 2 + (dz / semi[2]) ** 2 <= 1.0
        self.assign(win, inside, label, only, keep)

    def assign(
        self,
        win: tuple[slice, slice, slice],
        inside: np.ndarray,
        label: Tissue,
        only: tuple[Tissue, ...] | None,
        keep: tuple[Tissue, ...] | None,
    ) -> None:
        """Set ``label`` where ``inside`` holds, only over ``only`` and never over ``keep``."""
        sub = self.labels[win]
        inside = np.broadcast_to(inside, sub.shape)
        if only is not None:
            inside = inside & np.isin(sub, [int(t) for t in only])
        if keep is not None:
            inside = inside & ~np.isin(sub, [int(t) for t in keep])
        sub[inside] = int(label)
