"""A parametric neonatal brain as a voxel volume of tissue labels and echogenicity.

Coordinates are millimetres with the origin at the skin of the anterior fontanelle, where
the probe sits: ``x`` towards the patient's left, ``y`` anterior, ``z`` depth (inferior).
Structures are placed in coordinates normalised by the brain's semi-axes, so the whole
brain scales with gestational age; individual variation perturbs the axes and the
ventricles. The volume is built once per case and sliced for every frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from scipy import ndimage

from inference.phantom.lesions import LesionPlan


class Tissue(IntEnum):
    """Tissue labels of the voxel volume."""

    BACKGROUND = 0
    SCALP = 1
    SKULL = 2
    CSF = 3
    CORTEX = 4
    WHITE_MATTER = 5
    SULCUS = 6
    FALX = 7
    CORPUS_CALLOSUM = 8
    LATERAL_VENTRICLE = 9
    THIRD_VENTRICLE = 10
    FOURTH_VENTRICLE = 11
    CSP = 12
    CHOROID = 13
    THALAMUS = 14
    BASAL_GANGLIA = 15
    CEREBELLUM = 16
    VERMIS = 17
    BRAINSTEM = 18
    CISTERN = 19
    BLOOD = 20
    GMH = 21
    PVHI = 22
    PVL_CYST = 23
    PVL_FLARE = 24
    EPENDYMAL_CYST = 25
    TENTORIUM = 26
    SYLVIAN = 27
    TEMPORAL_HORN = 28


#: Backscatter amplitude of each tissue (relative; white matter about 0.6).
ECHOGENICITY: dict[Tissue, float] = {
    Tissue.BACKGROUND: 0.0,
    Tissue.SCALP: 3.0,
    Tissue.SKULL: 14.0,
    Tissue.CSF: 0.06,
    Tissue.CORTEX: 0.45,
    Tissue.WHITE_MATTER: 0.6,
    Tissue.SULCUS: 2.6,
    Tissue.FALX: 4.5,
    Tissue.CORPUS_CALLOSUM: 0.3,
    Tissue.LATERAL_VENTRICLE: 0.035,
    Tissue.THIRD_VENTRICLE: 0.035,
    Tissue.FOURTH_VENTRICLE: 0.035,
    Tissue.CSP: 0.04,
    Tissue.CHOROID: 8.0,
    Tissue.THALAMUS: 0.72,
    Tissue.BASAL_GANGLIA: 0.78,
    Tissue.CEREBELLUM: 0.9,
    Tissue.VERMIS: 4.0,
    Tissue.BRAINSTEM: 0.55,
    Tissue.CISTERN: 0.07,
    Tissue.BLOOD: 6.0,
    Tissue.GMH: 8.0,
    Tissue.PVHI: 4.5,
    Tissue.PVL_CYST: 0.04,
    Tissue.PVL_FLARE: 2.4,
    Tissue.EPENDYMAL_CYST: 0.04,
    Tissue.TENTORIUM: 4.0,
    Tissue.SYLVIAN: 4.0,
    Tissue.TEMPORAL_HORN: 0.035,
}

ECHO_LUT = np.zeros(256, dtype=np.float32)
for _tissue, _amp in ECHOGENICITY.items():
    ECHO_LUT[int(_tissue)] = _amp

#: Fluid-filled tissues (anechoic); their walls get a bright lining.
FLUID = (
    Tissue.CSF,
    Tissue.LATERAL_VENTRICLE,
    Tissue.THIRD_VENTRICLE,
    Tissue.FOURTH_VENTRICLE,
    Tissue.CSP,
    Tissue.CISTERN,
    Tissue.PVL_CYST,
    Tissue.EPENDYMAL_CYST,
    Tissue.TEMPORAL_HORN,
)
#: What the lateral-ventricle detector classes cover: the lumen and what fills it.
VENTRICLE_LUMEN = (Tissue.LATERAL_VENTRICLE, Tissue.CHOROID, Tissue.BLOOD)

# Lateral-ventricle centre line of the left side in normalised coordinates, with the
# half-width (lateral), half-height (mm, at term) and tilt of its cross-section.
_LV_PATH: tuple[tuple[float, float, float, float, float, float], ...] = (
    (0.11, 0.50, -0.17, 2.4, 1.6, 30.0),  # frontal horn tip
    (0.13, 0.36, -0.19, 4.4, 2.3, 30.0),  # frontal horn
    (0.14, 0.14, -0.20, 4.2, 2.2, 25.0),  # foramen of Monro
    (0.16, -0.05, -0.22, 4.0, 2.1, 20.0),  # body
    (0.19, -0.22, -0.20, 4.2, 2.6, 12.0),  # posterior body
    (0.27, -0.38, -0.12, 5.6, 5.4, 0.0),  # atrium (trigone)
    (0.26, -0.55, -0.08, 3.4, 3.2, 0.0),  # occipital horn
    (0.22, -0.68, -0.06, 1.6, 1.6, 0.0),  # occipital tip
)
_TEMPORAL_PATH: tuple[tuple[float, float, float, float, float, float], ...] = (
    (0.29, -0.36, -0.04, 1.3, 1.3, 0.0),
    (0.40, -0.28, 0.08, 1.2, 1.2, 0.0),
    (0.45, -0.12, 0.20, 1.1, 1.1, 0.0),
    (0.46, 0.00, 0.24, 0.9, 0.9, 0.0),
)
#: Index in _LV_PATH where the choroid plexus starts (foramen of Monro) and its glomus.
_CHOROID_FROM, _GLOMUS = 2, 5


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


class _Painter:
    """Writes labels into sub-boxes of the volume; later paint wins."""

    def __init__(self, labels: np.ndarray, origin: np.ndarray, voxel: float) -> None:
        self.labels = labels
        self.origin = origin
        self.voxel = voxel
        self.axes = [origin[i] + voxel * np.arange(labels.shape[i]) for i in range(3)]

    def _window(self, lo: np.ndarray, hi: np.ndarray) -> tuple[slice, slice, slice] | None:
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
        self._assign(win, inside, label, only, keep)

    def _assign(
        self,
        win: tuple[slice, slice, slice],
        inside: np.ndarray,
        label: Tissue,
        only: tuple[Tissue, ...] | None,
        keep: tuple[Tissue, ...] | None,
    ) -> None:
        sub = self.labels[win]
        inside = np.broadcast_to(inside, sub.shape)
        if only is not None:
            inside = inside & np.isin(sub, [int(t) for t in only])
        if keep is not None:
            inside = inside & ~np.isin(sub, [int(t) for t in keep])
        sub[inside] = int(label)


def _resample_path(
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
    position: float  # along _LV_PATH, in control-point units


def _smooth_noise(
    rng: np.random.Generator, shape: tuple[int, ...], coarse: int, sigma: float
) -> np.ndarray:
    """Zero-mean, unit-variance smooth random field (coarse grid, blurred, upsampled)."""
    small_shape = tuple(max(4, s // coarse + 2) for s in shape)
    small = ndimage.gaussian_filter(rng.standard_normal(small_shape).astype(np.float32), sigma)
    small /= small.std() + 1e-6
    return _upsample_linear(small, shape)


def _upsample_linear(small: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Linear interpolation of a small array up to ``shape``, one axis at a time."""
    out = small
    for axis, n in enumerate(shape):
        m = out.shape[axis]
        pos = np.linspace(0.0, m - 1.0, n, dtype=np.float32)
        i0 = np.minimum(pos.astype(np.int64), m - 2)
        w = (pos - i0).astype(np.float32)
        view = [1] * out.ndim
        view[axis] = n
        w = w.reshape(view)
        out = np.take(out, i0, axis=axis) * (1.0 - w) + np.take(out, i0 + 1, axis=axis) * w
    return out.astype(np.float32, copy=False)


def view_angles(params: BrainParams) -> ViewAngles:
    """Standard-plane tilts of a brain, from its landmarks."""

    def phi(p: np.ndarray) -> float:
        return math.degrees(math.atan2(p[1], p[2]))

    fh = params.point(*_LV_PATH[1][:3])
    monro = params.point(0.0, 0.06, 0.0)
    atrium = params.point(*_LV_PATH[5][:3])
    body = params.point(*_LV_PATH[4][:3])
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


def build_brain(
    rng: np.random.Generator,
    params: BrainParams,
    plan: LesionPlan,
    voxel_mm: float = 0.7,
    *,
    lesion_rng: np.random.Generator | None = None,
) -> BrainVolume:
    """Build the label and echogenicity volume of one brain with its lesions.

    ``rng`` draws the normal anatomy's randomness (folds, texture); ``lesion_rng`` (default:
    ``rng``) the lesions', so one brain can be rendered with and without a lesion.
    """
    p = params
    k = p.size_factor
    head = 1.0 + (p.csf_mm + p.skull_mm + p.scalp_mm) / min(p.a_x, p.a_z)
    lo = np.array([-p.a_x * head - 4, p.y_b - p.a_y * head - 4, -2.0])
    hi = np.array([p.a_x * head + 4, p.y_b + p.a_y * head + 4, p.z_b + p.a_z * head + 4])
    shape = tuple(int(v) for v in np.ceil((hi - lo) / voxel_mm) + 1)
    labels = np.zeros(shape, dtype=np.uint8)
    paint = _Painter(labels, lo, voxel_mm)
    ax = paint.axes

    # Head shells in normalised radius; thicknesses in mm divided by the local semi-axis.
    ux = (ax[0] / p.a_x)[:, None, None].astype(np.float32)
    uy = ((ax[1] - p.y_b) / p.a_y)[None, :, None].astype(np.float32)
    uz = ((ax[2] - p.z_b) / p.a_z)[None, None, :].astype(np.float32)
    radius = np.sqrt(ux**2 + uy**2 + uz**2)
    a_mean = (p.a_x + p.a_y + p.a_z) / 3
    r_csf = 1.0 + p.csf_mm / a_mean
    r_skull = r_csf + p.skull_mm / a_mean
    r_scalp = r_skull + p.scalp_mm / a_mean
    labels[radius <= r_scalp] = Tissue.SCALP
    skull = (radius <= r_skull) & (radius > r_csf)
    xs = ax[0][:, None, None]
    ys = ax[1][None, :, None]
    zs = ax[2][None, None, :]
    # The anterior fontanelle is a gap in the bone around the probe.
    fontanelle = (xs**2 + ys**2 < p.fontanelle_mm**2) & (zs < p.z_b - 0.5 * p.a_z)
    labels[skull & ~fontanelle] = Tissue.SKULL
    labels[(radius <= r_csf) & ~(skull & ~fontanelle)] = Tissue.CSF
    brain = radius <= 1.0
    labels[brain] = Tissue.WHITE_MATTER
    # Cortex, gyri and sulci: a shell whose folds deepen with maturity.
    depth_mm = (1.0 - radius) * a_mean
    labels[brain & (depth_mm < 2.2)] = Tissue.CORTEX
    if p.sulcal_depth_mm > 0.5:
        coarse = max(2, int(p.sulcal_scale_mm / voxel_mm / 1.5))
        folds = _smooth_noise(rng, labels.shape, coarse, 1.2)
        width = 0.06 + 0.05 * (p.sulcal_depth_mm / 9.0)
        sulci = brain & (depth_mm < p.sulcal_depth_mm) & (np.abs(folds) < width)
        labels[sulci] = Tissue.SULCUS
        del folds
    # Sylvian fissure: a bright slab on each side, wide open in preterm babies.
    syl_w = 0.03 + 0.03 * (1.0 - k)
    syl_centre = 0.05 - 0.25 * uy + 0.2 * (np.abs(ux) - 0.55)
    sylvian = (
        brain & (np.abs(ux) > 0.55) & (uy > -0.3) & (uy < 0.35) & (np.abs(uz - syl_centre) < syl_w)
    )
    labels[sylvian] = Tissue.SYLVIAN
    del radius, depth_mm, skull, fontanelle, sylvian

    # Deep grey matter.
    for s in (-1.0, 1.0):
        paint.ellipsoid(
            p.point(s * 0.40, 0.05, 0.0),
            (0.13 * p.a_x, 0.22 * p.a_y, 0.16 * p.a_z),
            Tissue.BASAL_GANGLIA,
        )
        paint.ellipsoid(
            p.point(s * 0.24, 0.26, -0.12),
            (0.10 * p.a_x, 0.14 * p.a_y, 0.10 * p.a_z),
            Tissue.BASAL_GANGLIA,
        )
        paint.ellipsoid(
            p.point(s * 0.20, -0.08, 0.0),
            (0.17 * p.a_x, 0.22 * p.a_y, 0.15 * p.a_z),
            Tissue.THALAMUS,
        )
    # Posterior fossa.
    cereb_c = p.point(0.0, -0.52, 0.56)
    cereb_s = (0.42 * p.a_x, 0.27 * p.a_y, 0.25 * p.a_z)
    paint.ellipsoid(
        cereb_c,
        (cereb_s[0], cereb_s[1] * 1.08, cereb_s[2] * 1.1),
        Tissue.TENTORIUM,
        only=(Tissue.WHITE_MATTER, Tissue.CORTEX, Tissue.SULCUS),
    )
    paint.ellipsoid(cereb_c, cereb_s, Tissue.CEREBELLUM)
    got = paint.local(cereb_c, np.array(cereb_s))
    if got is not None:
        win, dx, dy, dz = got
        inside = ((dx / cereb_s[0]) ** 2 + (dy / cereb_s[1]) ** 2 + (dz / cereb_s[2]) ** 2 <= 1) & (
            np.abs(dx) < 0.11 * p.a_x
        )
        paint._assign(win, inside, Tissue.VERMIS, None, None)
        # Folia: bright and dark bands across the hemispheres.
        folia = (np.sin(np.hypot(dy, dz) / (1.6 * k)) > 0.55) & (np.abs(dx) >= 0.11 * p.a_x)
        ell = (dx / cereb_s[0]) ** 2 + (dy / cereb_s[1]) ** 2 + (dz / cereb_s[2]) ** 2 <= 0.95
        paint._assign(win, folia & ell, Tissue.SULCUS, None, None)
    paint.ellipsoid(
        p.point(0.0, -0.18, 0.50),
        (0.13 * p.a_x, 0.13 * p.a_y, 0.40 * p.a_z),
        Tissue.BRAINSTEM,
        keep=(Tissue.BACKGROUND, Tissue.SCALP, Tissue.SKULL, Tissue.CSF),
    )
    paint.ellipsoid(
        p.point(0.0, -0.335, 0.50), (2.0 * k, 0.05 * p.a_y, 0.06 * p.a_z), Tissue.FOURTH_VENTRICLE
    )
    paint.ellipsoid(
        p.point(0.0, -0.76, 0.72),
        (0.16 * p.a_x, 0.10 * p.a_y, 0.10 * p.a_z),
        Tissue.CISTERN,
        keep=(Tissue.BACKGROUND, Tissue.SCALP, Tissue.SKULL),
    )

    # Interhemispheric fissure and falx above the callosum, cingulate sulcus.
    cc_c = (p.y_b - 0.02 * p.a_y, p.z_b - 0.02 * p.a_z)
    cc_a, cc_b = 0.50 * p.a_y, 0.30 * p.a_z
    cy = (ax[1] - cc_c[0])[None, :, None] / cc_a
    cz = (cc_c[1] - ax[2])[None, None, :] / cc_b  # up is positive
    rho = np.sqrt(cy**2 + cz**2).astype(np.float32)
    beta = np.degrees(np.arctan2(cz, cy)).astype(np.float32)
    above_cc = (rho > 1.12) & (beta > -20) & (beta < 200) | (cz > 0.9)
    ax_abs = np.abs(xs)
    fissure = brain & above_cc & (uz < 0.25) & (ax_abs < 1.0 * k + 0.3)
    labels[fissure & (ax_abs >= 0.35)] = Tissue.CSF
    labels[fissure & (ax_abs < 0.35)] = Tissue.FALX
    if p.ga_weeks >= 28:
        cing = brain & (np.abs(rho - 1.55) < 0.04) & (beta > 5) & (beta < 175) & (ax_abs < 6.0 * k)
        labels[cing] = Tissue.SULCUS
    pericallosal = (
        brain & (np.abs(rho - 1.12) < 0.035) & (beta > -25) & (beta < 195) & (ax_abs < 7.0 * k)
    )
    labels[pericallosal] = Tissue.SULCUS
    del fissure, above_cc

    # Cavum septi pellucidi (under the callosum), then the callosum itself.
    if p.csp_width_mm > 0:
        paint.ellipsoid(
            p.point(0.0, 0.20, -0.22), (p.csp_width_mm, 0.15 * p.a_y, 0.055 * p.a_z), Tissue.CSP
        )
    thick = np.where(beta < 40, 3.4, np.where(beta > 150, 3.8, 2.2)) * k / (cc_b * 2)
    cc = (np.abs(rho - 1.0) < thick) & (beta > -40) & (beta < 195) & (ax_abs < 0.2 * p.a_x)
    labels[cc & brain] = Tissue.CORPUS_CALLOSUM
    callosum = cc & brain
    del rho, beta, cc, thick

    # Lateral ventricles (with their dilation), temporal horns, choroid plexus.
    lumen = (Tissue.LATERAL_VENTRICLE,)
    kv = 0.5 + 0.5 * k  # preterm ventricles are relatively large
    ventricles: dict[int, list[VentricleSample]] = {}
    for side in (0, 1):
        sign = -1.0 if side == 0 else 1.0
        f = plan.lv_dilation[side]
        f_lat, f_vert = f, 0.55 * f + 0.45 if not plan.round_horns else 0.9 * f
        ventricles[side] = []
        for c, rl, rv, tl, pos in _resample_path(_LV_PATH, p, sign, 0.6):
            rl, rv = rl * kv / k, rv * kv / k
            rl2, rv2 = rl * k * f_lat, rv * k * f_vert
            if plan.round_horns:
                rl2 = rv2 = max(rl2, rv2)
                tl = 0.0
            # The roof (callosum) and the septum hold: growth goes lateral and downwards.
            c2 = c + np.array([sign * 0.9 * (rl2 - rl * k), 0.0, 0.8 * (rv2 - rv * k)])
            paint.ellipsoid(
                c2, (rl2, max(rl2, rv2, 0.9), rv2), Tissue.LATERAL_VENTRICLE, tilt_deg=-sign * tl
            )
            ventricles[side].append(VentricleSample(c2, rl2, rv2, pos))
        for c, rl, rv, _, _ in _resample_path(_TEMPORAL_PATH, p, sign, 0.6):
            g = 1.0 + 0.5 * (f - 1.0)
            paint.ellipsoid(
                c, (rl * k * g, rl * k * g * 1.2, rv * k * g), Tissue.TEMPORAL_HORN, keep=lumen
            )
        # Choroid plexus from the foramen of Monro to the glomus in the atrium, on the floor.
        for v in ventricles[side]:
            if v.position < _CHOROID_FROM or v.position > _GLOMUS + 0.6:
                continue
            near_glomus = math.exp(-(((v.position - _GLOMUS) / 0.6) ** 2))
            r = (1.0 + 2.8 * near_glomus) * k
            floor = v.centre + np.array([0.0, 0.0, max(0.0, v.half_height - r * 0.7)])
            paint.ellipsoid(
                floor, (r, r * 1.3, r * (0.8 + 0.3 * near_glomus)), Tissue.CHOROID, only=lumen
            )

    # Dilated ventricles stretch the callosum but do not break through it.
    for side in (0, 1):
        if plan.lv_dilation[side] > 1.5:
            half = (xs < 0) if side == 0 else (xs >= 0)
            labels[callosum & half & (labels == Tissue.LATERAL_VENTRICLE)] = Tissue.CORPUS_CALLOSUM
    del callosum
    # Third ventricle (dilates in hydrocephalus).
    paint.ellipsoid(
        p.point(0.0, -0.04, 0.02),
        (1.0 * k * plan.v3_dilation, 0.16 * p.a_y, 0.14 * p.a_z * min(1.6, plan.v3_dilation**0.3)),
        Tissue.THIRD_VENTRICLE,
    )

    _paint_lesions(lesion_rng or rng, paint, p, plan, ventricles)

    echo = ECHO_LUT[labels]
    # Bright ependymal lining and periventricular white matter, smooth tissue texture.
    fluid = np.isin(labels, [int(t) for t in FLUID if t != Tissue.CSF])
    idx = (
        np.nonzero(fluid.any(axis=(1, 2)))[0],
        np.nonzero(fluid.any(axis=(0, 2)))[0],
        np.nonzero(fluid.any(axis=(0, 1)))[0],
    )
    margin = math.ceil(6.0 / voxel_mm)
    win_x, win_y, win_z = (
        slice(max(0, int(i.min()) - margin), min(n, int(i.max()) + margin + 1))
        for i, n in zip(idx, labels.shape, strict=True)
    )
    win = (win_x, win_y, win_z)
    halo = ndimage.gaussian_filter(fluid[win].astype(np.float32), 1.1 / voxel_mm)
    sub_labels = labels[win]
    tissue = ~np.isin(
        sub_labels,
        [
            int(t)
            for t in (
                *FLUID,
                Tissue.BACKGROUND,
                Tissue.SKULL,
                Tissue.SCALP,
                Tissue.CHOROID,
                Tissue.BLOOD,
            )
        ],
    )
    echo[win] *= np.where(tissue, 1.0 + 2.0 * np.clip(halo * 2.5, 0.0, 1.0), 1.0).astype(np.float32)
    texture = _smooth_noise(rng, labels.shape, max(2, int(3.0 / voxel_mm)), 1.0)
    echo *= np.where(brain, np.exp(0.38 * texture), 1.0).astype(np.float32)
    echo = np.clip(echo, 0.0, None).astype(np.float32)
    return BrainVolume(
        params=p, labels=labels, echo=echo, origin=lo, voxel_mm=voxel_mm, angles=view_angles(p)
    )


def _paint_lesions(
    rng: np.random.Generator,
    paint: _Painter,
    p: BrainParams,
    plan: LesionPlan,
    ventricles: dict[int, list[VentricleSample]],
) -> None:
    """Blood, infarcts, cysts: drawn over the normal brain."""
    k = p.size_factor
    lumen = (Tissue.LATERAL_VENTRICLE, Tissue.CHOROID)
    parenchyma = (
        Tissue.WHITE_MATTER,
        Tissue.CORTEX,
        Tissue.SULCUS,
        Tissue.BASAL_GANGLIA,
        Tissue.THALAMUS,
    )
    for side in plan.gmh_sides:
        sign = -1.0 if side == 0 else 1.0
        # Caudothalamic groove: below and lateral to the ventricle near the foramen of Monro.
        c = p.point(sign * 0.21, 0.12, -0.15)
        r = plan.gmh_radius_mm * k
        paint.ellipsoid(
            c, (r, r * 1.3, r * 0.9), Tissue.GMH, keep=(Tissue.LATERAL_VENTRICLE, Tissue.CHOROID)
        )
    for side in (0, 1):
        fill = plan.clot_fill[side]
        if fill <= 0:
            continue
        sign = -1.0 if side == 0 else 1.0
        samples = ventricles[side]
        # Blood settles in the dependent (posterior, lower) part first and spreads forwards.
        start = int(len(samples) * (1.0 - fill))
        f = plan.lv_dilation[side]
        for v in samples[start:]:
            blob = v.centre + np.array([0.0, 0.0, 0.55 * v.half_height])
            r = max(v.half_width, v.half_height) * (0.75 if f < 1.6 else 0.5)
            paint.ellipsoid(blob, (r, r, r), Tissue.BLOOD, only=lumen)
        # A clot cast also sits in the body next to the germinal matrix.
        body = min(samples, key=lambda v: abs(v.position - 2.7))
        paint.ellipsoid(
            body.centre + np.array([0.0, 0.0, 0.3 * body.half_height]),
            (0.8 * body.half_width, 5.0 * k * f, 0.8 * body.half_height),
            Tissue.BLOOD,
            only=lumen,
        )
    if plan.pvhi_side is not None:
        sign = -1.0 if plan.pvhi_side == 0 else 1.0
        c = p.point(sign * 0.40, -0.05, -0.30)
        paint.ellipsoid(
            c,
            (0.14 * p.a_x, 0.26 * p.a_y, 0.13 * p.a_z),
            Tissue.PVHI,
            tilt_deg=-sign * 25,
            only=parenchyma,
        )
    if plan.pvl_cysts:
        for _ in range(plan.pvl_cysts):
            sign = -1.0 if rng.random() < 0.5 else 1.0
            # Dorsolateral to the frontal horns and trigones.
            uy = float(rng.choice([rng.uniform(0.15, 0.45), rng.uniform(-0.5, -0.2)]))
            c = p.point(sign * rng.uniform(0.30, 0.42), uy, rng.uniform(-0.36, -0.18))
            paint.ellipsoid(c, (5.5 * k, 6.5 * k, 5.0 * k), Tissue.PVL_FLARE, only=parenchyma)
        for _ in range(plan.pvl_cysts):
            sign = -1.0 if rng.random() < 0.5 else 1.0
            uy = float(rng.choice([rng.uniform(0.15, 0.45), rng.uniform(-0.5, -0.2)]))
            c = p.point(sign * rng.uniform(0.30, 0.42), uy, rng.uniform(-0.36, -0.18))
            r = float(rng.uniform(2.0, 4.0)) * k
            paint.ellipsoid(
                c,
                (r, r * rng.uniform(0.9, 1.4), r),
                Tissue.PVL_CYST,
                only=(*parenchyma, Tissue.PVL_FLARE),
            )
    for i, side in enumerate(plan.ependymal_cysts):
        sign = -1.0 if side == 0 else 1.0
        c = p.point(
            sign * rng.uniform(0.20, 0.25),
            0.10 + 0.07 * i + rng.uniform(-0.03, 0.03),
            -0.16 + rng.uniform(-0.02, 0.02),
        )
        r = float(rng.uniform(2.0, 3.5)) * k
        paint.ellipsoid(c, (r, r * 1.2, r), Tissue.EPENDYMAL_CYST, keep=(Tissue.LATERAL_VENTRICLE,))
