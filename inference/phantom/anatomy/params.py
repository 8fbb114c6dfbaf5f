"""The size and shape of one baby's brain, drawn for a gestational age."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BrainParams:
    """Size and shape of one baby's brain (millimetres)."""

    ga_weeks: float
    a_x: float  # brain semi-axes
    a_y: float
    a_z: float
    y_b: float  # brain centre relative to the fontanelle
    z_b: float
    csf_mm: float
    skull_mm: float
    scalp_mm: float
    fontanelle_mm: float
    sulcal_depth_mm: float
    sulcal_scale_mm: float
    csp_width_mm: float
    size_factor: float

    @classmethod
    def sample(cls, rng: np.random.Generator, ga_weeks: float) -> BrainParams:
        """Draw a brain for a gestational age in weeks (25–41 supported)."""
        if not 23.0 <= ga_weeks <= 43.0:
            raise ValueError(f"gestational age must be 23–43 weeks, got {ga_weeks}")
        bpd = 62.0 + 2.05 * (ga_weeks - 25.0)
        a_x = (bpd - 10.0) / 2.0 * rng.uniform(0.95, 1.05)
        a_y = a_x * rng.uniform(1.15, 1.3)
        a_z = a_x * rng.uniform(0.82, 0.92)
        maturity = float(np.clip((ga_weeks - 25.0) / 15.0, 0.0, 1.0))
        csf = 3.0 - 1.5 * maturity + rng.uniform(-0.4, 0.4)
        scalp = rng.uniform(1.8, 2.8)
        y_b = -0.12 * a_y
        # The skin at the fontanelle is the origin: the brain top lies csf + scalp below.
        z_b = scalp + csf + 1.0 + a_z * math.sqrt(1.0 - (y_b / a_y) ** 2)
        return cls(
            ga_weeks=ga_weeks,
            a_x=a_x,
            a_y=a_y,
            a_z=a_z,
            y_b=y_b,
            z_b=z_b,
            csf_mm=csf,
            skull_mm=rng.uniform(1.5, 2.5),
            scalp_mm=scalp,
            fontanelle_mm=rng.uniform(11.0, 16.0) - 3.0 * maturity,
            sulcal_depth_mm=9.0 * maturity**1.3,
            sulcal_scale_mm=9.0 - 3.0 * maturity,
            csp_width_mm=(rng.uniform(1.5, 3.0) if rng.random() < 0.9 - 0.4 * maturity else 0.0),
            size_factor=a_x / 41.0,
        )

    def point(self, ux: float, uy: float, uz: float) -> np.ndarray:
        """Millimetre coordinates of a point given in normalised brain coordinates."""
        return np.array([ux * self.a_x, self.y_b + uy * self.a_y, self.z_b + uz * self.a_z])
