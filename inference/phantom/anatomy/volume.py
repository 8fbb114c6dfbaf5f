"""The built brain: label and echogenicity voxels, and sampling them at points."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference.phantom.anatomy.landmarks import ViewAngles
from inference.phantom.anatomy.params import BrainParams


@dataclass
class BrainVolume:
    """Voxel volume of one brain: tissue labels and echogenicity on the same grid."""

    params: BrainParams
    labels: np.ndarray  # uint8, (nx, ny, nz)
    echo: np.ndarray  # float32, (nx, ny, nz)
    origin: np.ndarray  # mm of voxel (0, 0, 0)
    voxel_mm: float
    angles: ViewAngles

    def to_index(self, points: np.ndarray) -> np.ndarray:
        """Fractional voxel indices (3×N) of millimetre points (..., 3)."""
        flat = points.reshape(-1, 3)
        return ((flat - self.origin) / self.voxel_mm).T

    def sample(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Echogenicity (trilinear) and tissue label (nearest) at millimetre points.

        Points outside the volume read as background (0).
        """
        shape = points.shape[:-1]
        idx = ((points.reshape(-1, 3) - self.origin) * np.float32(1.0 / self.voxel_mm)).astype(
            np.float32
        )
        nx, ny, nz = self.labels.shape
        lim = np.array([nx - 1.001, ny - 1.001, nz - 1.001], dtype=np.float32)
        inside = np.all((idx >= 0) & (idx <= lim), axis=1)
        np.clip(idx, 0, lim, out=idx)
        base = idx.astype(np.int32)
        frac = idx - base
        strides = np.array([ny * nz, nz, 1], dtype=np.int32)
        flat0 = base @ strides
        echo_flat = self.echo.reshape(-1)
        fx, fy, fz = frac[:, 0], frac[:, 1], frac[:, 2]
        value = np.zeros(len(idx), dtype=np.float32)
        for dx in (0, 1):
            wx = fx if dx else 1.0 - fx
            for dy in (0, 1):
                wxy = wx * (fy if dy else 1.0 - fy)
                for dz in (0, 1):
                    w = wxy * (fz if dz else 1.0 - fz)
                    value += w * echo_flat[flat0 + (dx * strides[0] + dy * strides[1] + dz)]
        nearest = (idx + 0.5).astype(np.int32) @ strides
        labels = self.labels.reshape(-1)[nearest]
        value[~inside] = 0.0
        labels[~inside] = 0
        return value.reshape(shape), labels.reshape(shape)
