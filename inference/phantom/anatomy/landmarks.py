"""Landmark paths of the ventricles and the standard-plane tilts derived from them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from inference.phantom.anatomy.params import BrainParams

#: Lateral-ventricle centre line of the left side in normalised coordinates, with the
#: half-width (lateral), half-height (mm, at term) and tilt of its cross-section.
LV_PATH: tuple[tuple[float, float, float, float, float, float], ...] = (
    (0.11, 0.50, -0.17, 2.4, 1.6, 30.0),  # frontal horn tip
    (0.13, 0.36, -0.19, 4.4, 2.3, 30.0),  # frontal horn
    (0.14, 0.14, -0.20, 4.2, 2.2, 25.0),  # foramen of Monro
    (0.16, -0.05, -0.22, 4.0, 2.1, 20.0),  # body
    (0.19, -0.22, -0.20, 4.2, 2.6, 12.0),  # posterior body
    (0.27, -0.38, -0.12, 5.6, 5.4, 0.0),  # atrium (trigone)
    (0.26, -0.55, -0.08, 3.4, 3.2, 0.0),  # occipital horn
    (0.22, -0.68, -0.06, 1.6, 1.6, 0.0),  # occipital tip
)
#: Temporal-horn centre line of the left side, same columns.
TEMPORAL_PATH: tuple[tuple[float, float, float, float, float, float], ...] = (
    (0.29, -0.36, -0.04, 1.3, 1.3, 0.0),
    (0.40, -0.28, 0.08, 1.2, 1.2, 0.0),
    (0.45, -0.12, 0.20, 1.1, 1.1, 0.0),
    (0.46, 0.00, 0.24, 0.9, 0.9, 0.0),
)
#: Index in LV_PATH where the choroid plexus starts (foramen of Monro) and its glomus.
CHOROID_FROM, GLOMUS = 2, 5


@dataclass(frozen=True)
class ViewAngles:
    """Where the standard planes lie, as probe tilts from the fontanelle (degrees).

    Coronal tilt ``phi``: positive anterior. Sagittal tilt ``psi``: positive towards the
    patient's left. Also the angular boundaries used to name ventricle parts.
    """

    ahv: float
    tvv: float
    bv: float
    psv: float  # parasagittal tilt magnitude (RPSV = −psv, LPSV = +psv)
    horn_split: float  # coronal: anterior horn in front of this tilt, lateral ventricle behind
    trigone_split: float  # sagittal: trigone behind this tilt


def resample_path(
    path: tuple[tuple[float, float, float, float, float, float], ...],
    params: BrainParams,
    side_sign: float,
    step_mm: float,
) -> list[tuple[np.ndarray, float, float, float, float]]:
    """Points along a centre line every ``step_mm``: (centre, half-width, half-height, tilt,
    position along the path in control-point units)."""
    pts = [params.point(side_sign * p[0], p[1], p[2]) for p in path]
    out: list[tuple[np.ndarray, float, float, float, float]] = []
    for i in range(len(path) - 1):
        a, b = pts[i], pts[i + 1]
        n = max(1, int(np.linalg.norm(b - a) / step_mm))
        for k in range(n):
            f = k / n
            rl = path[i][3] * (1 - f) + path[i + 1][3] * f
            rv = path[i][4] * (1 - f) + path[i + 1][4] * f
            tl = path[i][5] * (1 - f) + path[i + 1][5] * f
            out.append((a + (b - a) * f, rl, rv, tl, i + f))
    last = path[-1]
    out.append((pts[-1], last[3], last[4], last[5], float(len(path) - 1)))
    return out


@dataclass(frozen=True)
class VentricleSample:
    """One cross-section of a (possibly dilated) lateral ventricle."""

    centre: np.ndarray
    half_width: float
    half_height: float
    position: float  # along LV_PATH, in control-point units


def view_angles(params: BrainParams) -> ViewAngles:
    """Standard-plane tilts of a brain, from its landmarks."""

    def phi(p: np.ndarray) -> float:
        """Coronal tilt (degrees) of the plane through a point."""
        return math.degrees(math.atan2(p[1], p[2]))

    fh = params.point(*LV_PATH[1][:3])
    monro = params.point(0.0, 0.06, 0.0)
    atrium = params.point(*LV_PATH[5][:3])
    body = params.point(*LV_PATH[4][:3])
    mid = (body + 2.0 * atrium) / 3
    psv = math.degrees(math.atan2(mid[0], mid[2]))
    tvv = phi(monro)
    bv = phi(atrium)
    return ViewAngles(
        ahv=phi(fh),
        tvv=tvv,
        bv=bv,
        psv=psv,
        horn_split=tvv - 0.33 * (tvv - bv),
        trigone_split=(phi(body) + bv) / 2,
    )
