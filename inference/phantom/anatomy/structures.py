"""The normal brain's structures, painted one after another (later paint wins).

Each function paints one anatomical group into the shared label volume; the order in
:func:`inference.phantom.anatomy.build.build_brain` is the order of precedence.
"""

from __future__ import annotations

import math

import numpy as np

from inference.phantom.anatomy.fields import smooth_noise
from inference.phantom.anatomy.landmarks import (
    CHOROID_FROM,
    GLOMUS,
    LV_PATH,
    TEMPORAL_PATH,
    VentricleSample,
    resample_path,
)
from inference.phantom.anatomy.painter import Painter
from inference.phantom.anatomy.params import BrainParams
from inference.phantom.anatomy.tissue import Tissue
from inference.phantom.lesions import LesionPlan


def _normalised_axes(paint: Painter, p: BrainParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The voxel axes in coordinates normalised by the brain's semi-axes (broadcastable)."""
    ax = paint.axes
    ux = (ax[0] / p.a_x)[:, None, None].astype(np.float32)
    uy = ((ax[1] - p.y_b) / p.a_y)[None, :, None].astype(np.float32)
    uz = ((ax[2] - p.z_b) / p.a_z)[None, None, :].astype(np.float32)
    return ux, uy, uz


def paint_head(rng: np.random.Generator, paint: Painter, p: BrainParams) -> np.ndarray:
    """Scalp, skull with its fontanelle, CSF, cortex with sulci and the Sylvian fissures.

    Returns the brain mask (inside the pial surface).
    """
    labels, ax, voxel_mm = paint.labels, paint.axes, paint.voxel
    k = p.size_factor
    # Head shells in normalised radius; thicknesses in mm divided by the local semi-axis.
    ux, uy, uz = _normalised_axes(paint, p)
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
        folds = smooth_noise(rng, labels.shape, coarse, 1.2)
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
    return brain


def paint_deep_grey(paint: Painter, p: BrainParams) -> None:
    """Basal ganglia (lentiform and caudate heads) and thalami on both sides."""
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


def paint_posterior_fossa(paint: Painter, p: BrainParams) -> None:
    """Tentorium, cerebellum with vermis and folia, brainstem, fourth ventricle, cisterna."""
    k = p.size_factor
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
        paint.assign(win, inside, Tissue.VERMIS, None, None)
        # Folia: bright and dark bands across the hemispheres.
        folia = (np.sin(np.hypot(dy, dz) / (1.6 * k)) > 0.55) & (np.abs(dx) >= 0.11 * p.a_x)
        ell = (dx / cereb_s[0]) ** 2 + (dy / cereb_s[1]) ** 2 + (dz / cereb_s[2]) ** 2 <= 0.95
        paint.assign(win, folia & ell, Tissue.SULCUS, None, None)
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


def paint_midline(paint: Painter, p: BrainParams, brain: np.ndarray) -> np.ndarray:
    """Interhemispheric fissure and falx, cingulate and pericallosal sulci, CSP, callosum.

    Returns the corpus callosum mask, which dilated ventricles must not break through.
    """
    labels, ax = paint.labels, paint.axes
    k = p.size_factor
    uz = ((ax[2] - p.z_b) / p.a_z)[None, None, :].astype(np.float32)
    xs = ax[0][:, None, None]
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
    return cc & brain


def paint_lateral_ventricles(
    paint: Painter, p: BrainParams, plan: LesionPlan
) -> dict[int, list[VentricleSample]]:
    """Lateral ventricles (with their dilation), temporal horns and choroid plexus.

    Returns the cross-sections of each side's ventricle (0 = right, 1 = left), along which
    intraventricular blood is later laid.
    """
    k = p.size_factor
    lumen = (Tissue.LATERAL_VENTRICLE,)
    kv = 0.5 + 0.5 * k  # preterm ventricles are relatively large
    ventricles: dict[int, list[VentricleSample]] = {}
    for side in (0, 1):
        sign = -1.0 if side == 0 else 1.0
        f = plan.lv_dilation[side]
        f_lat, f_vert = f, 0.55 * f + 0.45 if not plan.round_horns else 0.9 * f
        ventricles[side] = []
        for c, rl, rv, tl, pos in resample_path(LV_PATH, p, sign, 0.6):
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
        for c, rl, rv, _, _ in resample_path(TEMPORAL_PATH, p, sign, 0.6):
            g = 1.0 + 0.5 * (f - 1.0)
            paint.ellipsoid(
                c, (rl * k * g, rl * k * g * 1.2, rv * k * g), Tissue.TEMPORAL_HORN, keep=lumen
            )
        # Choroid plexus from the foramen of Monro to the glomus in the atrium, on the floor.
        for v in ventricles[side]:
            if v.position < CHOROID_FROM or v.position > GLOMUS + 0.6:
                continue
            near_glomus = math.exp(-(((v.position - GLOMUS) / 0.6) ** 2))
            r = (1.0 + 2.8 * near_glomus) * k
            floor = v.centre + np.array([0.0, 0.0, max(0.0, v.half_height - r * 0.7)])
            paint.ellipsoid(
                floor, (r, r * 1.3, r * (0.8 + 0.3 * near_glomus)), Tissue.CHOROID, only=lumen
            )
    return ventricles


def restore_callosum(paint: Painter, plan: LesionPlan, callosum: np.ndarray) -> None:
    """Dilated ventricles stretch the callosum but do not break through it."""
    labels = paint.labels
    xs = paint.axes[0][:, None, None]
    for side in (0, 1):
        if plan.lv_dilation[side] > 1.5:
            half = (xs < 0) if side == 0 else (xs >= 0)
            labels[callosum & half & (labels == Tissue.LATERAL_VENTRICLE)] = Tissue.CORPUS_CALLOSUM


def paint_third_ventricle(paint: Painter, p: BrainParams, plan: LesionPlan) -> None:
    """Third ventricle (dilates in hydrocephalus)."""
    k = p.size_factor
    paint.ellipsoid(
        p.point(0.0, -0.04, 0.02),
        (1.0 * k * plan.v3_dilation, 0.16 * p.a_y, 0.14 * p.a_z * min(1.6, plan.v3_dilation**0.3)),
        Tissue.THIRD_VENTRICLE,
    )
