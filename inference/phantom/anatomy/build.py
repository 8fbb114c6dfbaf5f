"""Assembling one brain: the voxel grid, its structures and lesions, then echogenicity."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from inference.phantom.anatomy.fields import smooth_noise
from inference.phantom.anatomy.landmarks import view_angles
from inference.phantom.anatomy.lesion_painting import paint_lesions
from inference.phantom.anatomy.painter import Painter
from inference.phantom.anatomy.params import BrainParams
from inference.phantom.anatomy.structures import (
    paint_deep_grey,
    paint_head,
    paint_lateral_ventricles,
    paint_midline,
    paint_posterior_fossa,
    paint_third_ventricle,
    restore_callosum,
)
from inference.phantom.anatomy.tissue import ECHO_LUT, FLUID, Tissue
from inference.phantom.anatomy.volume import BrainVolume
from inference.phantom.lesions import LesionPlan


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
    paint = _empty_head(params, voxel_mm)
    brain = paint_head(rng, paint, params)
    paint_deep_grey(paint, params)
    paint_posterior_fossa(paint, params)
    callosum = paint_midline(paint, params, brain)
    ventricles = paint_lateral_ventricles(paint, params, plan)
    restore_callosum(paint, plan, callosum)
    del callosum
    paint_third_ventricle(paint, params, plan)
    paint_lesions(lesion_rng or rng, paint, params, plan, ventricles)
    echo = _echogenicity(rng, paint.labels, brain, voxel_mm)
    return BrainVolume(
        params=params,
        labels=paint.labels,
        echo=echo,
        origin=paint.origin,
        voxel_mm=voxel_mm,
        angles=view_angles(params),
    )


def _empty_head(p: BrainParams, voxel_mm: float) -> Painter:
    """A background-filled grid that holds the whole head, from just above the skin."""
    head = 1.0 + (p.csf_mm + p.skull_mm + p.scalp_mm) / min(p.a_x, p.a_z)
    lo = np.array([-p.a_x * head - 4, p.y_b - p.a_y * head - 4, -2.0])
    hi = np.array([p.a_x * head + 4, p.y_b + p.a_y * head + 4, p.z_b + p.a_z * head + 4])
    shape = tuple(int(v) for v in np.ceil((hi - lo) / voxel_mm) + 1)
    return Painter(np.zeros(shape, dtype=np.uint8), lo, voxel_mm)


def _echogenicity(
    rng: np.random.Generator, labels: np.ndarray, brain: np.ndarray, voxel_mm: float
) -> np.ndarray:
    """Echo amplitude per voxel: tissue brightness, bright ependymal halo, smooth texture."""
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
    texture = smooth_noise(rng, labels.shape, max(2, int(3.0 / voxel_mm)), 1.0)
    echo *= np.where(brain, np.exp(0.38 * texture), 1.0).astype(np.float32)
    return np.clip(echo, 0.0, None).astype(np.float32)
