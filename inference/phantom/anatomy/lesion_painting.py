"""A case's lesions (see :class:`inference.phantom.lesions.LesionPlan`) drawn over the brain.

The painting order (germinal-matrix haemorrhage, intraventricular clot, venous infarction,
periventricular leukomalacia, ependymal cysts) and the order of random draws are part of
the phantom's reproducibility: changing either changes the rendered bytes.
"""

from __future__ import annotations

import numpy as np

from inference.phantom.anatomy.landmarks import VentricleSample
from inference.phantom.anatomy.painter import Painter
from inference.phantom.anatomy.params import BrainParams
from inference.phantom.anatomy.tissue import Tissue
from inference.phantom.lesions import LesionPlan

#: Brain tissue an infarct or leukomalacia can replace.
_PARENCHYMA = (
    Tissue.WHITE_MATTER,
    Tissue.CORTEX,
    Tissue.SULCUS,
    Tissue.BASAL_GANGLIA,
    Tissue.THALAMUS,
)


def paint_lesions(
    rng: np.random.Generator,
    paint: Painter,
    p: BrainParams,
    plan: LesionPlan,
    ventricles: dict[int, list[VentricleSample]],
) -> None:
    """Blood, infarcts, cysts: drawn over the normal brain."""
    _paint_germinal_matrix_haemorrhage(paint, p, plan)
    _paint_ventricular_clot(paint, p, plan, ventricles)
    _paint_venous_infarction(paint, p, plan)
    _paint_leukomalacia(rng, paint, p, plan)
    _paint_ependymal_cysts(rng, paint, p, plan)


def _paint_germinal_matrix_haemorrhage(paint: Painter, p: BrainParams, plan: LesionPlan) -> None:
    """Germinal-matrix blood in the caudothalamic groove of each affected side."""
    k = p.size_factor
    for side in plan.gmh_sides:
        sign = -1.0 if side == 0 else 1.0
        # Caudothalamic groove: below and lateral to the ventricle near the foramen of Monro.
        c = p.point(sign * 0.21, 0.12, -0.15)
        r = plan.gmh_radius_mm * k
        paint.ellipsoid(
            c, (r, r * 1.3, r * 0.9), Tissue.GMH, keep=(Tissue.LATERAL_VENTRICLE, Tissue.CHOROID)
        )


def _paint_ventricular_clot(
    paint: Painter,
    p: BrainParams,
    plan: LesionPlan,
    ventricles: dict[int, list[VentricleSample]],
) -> None:
    """Intraventricular blood filling each side's lumen to its planned fraction."""
    k = p.size_factor
    lumen = (Tissue.LATERAL_VENTRICLE, Tissue.CHOROID)
    for side in (0, 1):
        fill = plan.clot_fill[side]
        if fill <= 0:
            continue
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


def _paint_venous_infarction(paint: Painter, p: BrainParams, plan: LesionPlan) -> None:
    """Periventricular haemorrhagic infarction: a fan in the white matter of one side."""
    if plan.pvhi_side is None:
        return
    sign = -1.0 if plan.pvhi_side == 0 else 1.0
    c = p.point(sign * 0.40, -0.05, -0.30)
    paint.ellipsoid(
        c,
        (0.14 * p.a_x, 0.26 * p.a_y, 0.13 * p.a_z),
        Tissue.PVHI,
        tilt_deg=-sign * 25,
        only=_PARENCHYMA,
    )


def _paint_leukomalacia(
    rng: np.random.Generator, paint: Painter, p: BrainParams, plan: LesionPlan
) -> None:
    """Periventricular leukomalacia: echogenic flares, then the cysts they leave."""
    if not plan.pvl_cysts:
        return
    k = p.size_factor
    for _ in range(plan.pvl_cysts):
        sign = -1.0 if rng.random() < 0.5 else 1.0
        # Dorsolateral to the frontal horns and trigones.
        uy = float(rng.choice([rng.uniform(0.15, 0.45), rng.uniform(-0.5, -0.2)]))
        c = p.point(sign * rng.uniform(0.30, 0.42), uy, rng.uniform(-0.36, -0.18))
        paint.ellipsoid(c, (5.5 * k, 6.5 * k, 5.0 * k), Tissue.PVL_FLARE, only=_PARENCHYMA)
    for _ in range(plan.pvl_cysts):
        sign = -1.0 if rng.random() < 0.5 else 1.0
        uy = float(rng.choice([rng.uniform(0.15, 0.45), rng.uniform(-0.5, -0.2)]))
        c = p.point(sign * rng.uniform(0.30, 0.42), uy, rng.uniform(-0.36, -0.18))
        r = float(rng.uniform(2.0, 4.0)) * k
        paint.ellipsoid(
            c,
            (r, r * rng.uniform(0.9, 1.4), r),
            Tissue.PVL_CYST,
            only=(*_PARENCHYMA, Tissue.PVL_FLARE),
        )


def _paint_ependymal_cysts(
    rng: np.random.Generator, paint: Painter, p: BrainParams, plan: LesionPlan
) -> None:
    """Small subependymal cysts beside the frontal horns, one per planned entry."""
    k = p.size_factor
    for i, side in enumerate(plan.ependymal_cysts):
        sign = -1.0 if side == 0 else 1.0
        c = p.point(
            sign * rng.uniform(0.20, 0.25),
            0.10 + 0.07 * i + rng.uniform(-0.03, 0.03),
            -0.16 + rng.uniform(-0.02, 0.02),
        )
        r = float(rng.uniform(2.0, 3.5)) * k
        paint.ellipsoid(c, (r, r * 1.2, r), Tissue.EPENDYMAL_CYST, keep=(Tissue.LATERAL_VENTRICLE,))
