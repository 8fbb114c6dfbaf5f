"""One synthetic case: a baby, its brain, its gold standard, two sweeps and picked views."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from core.labels import View
from inference.phantom.anatomy import BrainParams, BrainVolume, build_brain
from inference.phantom.geometry import make_sector
from inference.phantom.imaging import draw_overlays
from inference.phantom.lesion_masks import lesion_label_image
from inference.phantom.lesions import (
    CaseLabels,
    LesionPlan,
    labels_for,
    plan_lesions,
    sample_case_type,
)
from inference.phantom.styles import MachineStyle, pick_style
from inference.phantom.sweep import ORIENTATIONS, SIDES, Sweep, SweepOptions, render_sweep

#: Which sweep each standard view comes from.
VIEW_ORIENTATION: dict[View, str] = {
    View.AHV: "coronal",
    View.TVV: "coronal",
    View.BV: "coronal",
    View.MSV: "sagittal",
    View.RPSV: "sagittal",
    View.LPSV: "sagittal",
}
#: How the sagittal plane is swept: ``combined``, one sweep from right to left (today's
#: default), or ``split``, one left and one right sweep (``sagittal_left`` /
#: ``sagittal_right``), each centred on its side's parasagittal plane, as most protocols do.
SAGITTAL_SWEEP_MODES: tuple[str, ...] = ("combined", "split")
#: Overlay layouts: ``standard`` (today's) or ``real``, the fuller info bars of a scanner
#: screen (parameter block, framed grey bar, focus mark, MI/TI line).
LAYOUTS: tuple[str, ...] = ("standard", "real")
#: Where the fan's top lies (fraction of the frame height): a scanner screen keeps its
#: four lines of header text above the image area, clear of the depth scale.
LAYOUT_TOP_MARGIN: dict[str, float] = {"standard": 0.07, "real": 0.155}


@dataclass(frozen=True)
class CaseMeta:
    """Clinical metadata of the manifest."""

    ga_weeks: int
    ga_days: int
    birth_weight_g: int
    sex: str
    age_at_exam_days: int
    apgar_1min: int
    apgar_5min: int


@dataclass
class PhantomCase:
    """A rendered case: truth, metadata, the two sweeps and the junior's view picks."""

    seed: int
    case_type: str
    labels: CaseLabels
    meta: CaseMeta
    style: MachineStyle
    plan: LesionPlan
    volume: BrainVolume
    sweeps: dict[str, Sweep]
    view_picks: dict[View, int]  # frame index in the view's sweep
    blind_sweep: bool
    #: The sweep (key of ``sweeps``) each view is picked from.
    view_sweeps: dict[View, str] = field(default_factory=lambda: dict(VIEW_ORIENTATION))

    @property
    def severe(self) -> bool:
        """The case's severe label (DESIGN.md rule)."""
        return self.labels.severe

    def view_image(self, view: View) -> np.ndarray:
        """The picked standard-view frame (uint8 grey)."""
        return self.sweeps[self.view_sweeps[view]].frames[self.view_picks[view]]

    def view_lesion_labels(self, view: View) -> np.ndarray | None:
        """The picked view's lesion label image (IMAGE_LABELS indices, 0: none), frame-sized;
        None unless the case was rendered with ``lesion_masks=True``."""
        sweep = self.sweeps[self.view_sweeps[view]]
        if sweep.lesion_tissues is None:
            return None
        return lesion_label_image(
            sweep.lesion_tissues[self.view_picks[view]], sweep.geometry, self.labels.conditions
        )


def _birth_weight(rng: np.random.Generator, ga: float) -> int:
    median = float(np.interp(ga, [24, 28, 32, 36, 40, 42], [650, 1100, 1750, 2650, 3450, 3650]))
    return int(round(median * math.exp(rng.normal(0, 0.14)) / 10) * 10)


def sample_meta(rng: np.random.Generator, ga_weeks: float | None) -> CaseMeta:
    """Draw gestational age (25–41 w unless given), weight, sex, age at exam, Apgar."""
    ga = float(rng.uniform(25.0, 42.0)) if ga_weeks is None else float(ga_weeks)
    weeks = int(min(41, math.floor(ga)))
    days = int(rng.integers(0, 7)) if ga_weeks is None else round((ga - math.floor(ga)) * 7) % 7
    apgar1 = int(np.clip(round(rng.normal(7 if ga > 32 else 5.5, 1.6)), 1, 10))
    apgar5 = int(np.clip(apgar1 + rng.integers(0, 3), apgar1, 10))
    return CaseMeta(
        ga_weeks=weeks,
        ga_days=days,
        birth_weight_g=_birth_weight(rng, ga),
        sex="F" if rng.random() < 0.48 else "M",
        age_at_exam_days=int(rng.integers(1, 15 if ga < 37 else 8)),
        apgar_1min=apgar1,
        apgar_5min=apgar5,
    )


def junior_pick(rng: np.random.Generator, sweep: Sweep, view: View) -> int | None:
    """A frame near, not always at, the view's ideal frame (within the view's frames)."""
    ideal = sweep.ideal_frames.get(view)
    if ideal is None:
        return None
    good = [t.index for t in sweep.truth if t.view == view and t.closeness >= 0.35]
    if not good or rng.random() < 0.3:
        return ideal
    target = ideal + rng.normal(0.0, 2.5)
    return int(min(good, key=lambda i: abs(i - target)))


@dataclass(frozen=True)
class _SweepPlan:
    """One sweep to render: its key in ``PhantomCase.sweeps``, orientation, side, seed."""

    key: str
    orientation: str
    side: str | None
    seed: np.random.SeedSequence


def _sweep_plans(
    seed: int, orientations: tuple[str, ...], sagittal_sweeps: str
) -> list[_SweepPlan]:
    """The sweeps of a case; split sagittal sweeps get seeds of their own.

    The coronal sweep (and, combined, the sagittal one) keep today's seeds, so a split
    case shares its baby, machine and coronal sweep with its combined twin.
    """
    if sagittal_sweeps not in SAGITTAL_SWEEP_MODES:
        raise ValueError(
            f"sagittal sweeps must be one of {SAGITTAL_SWEEP_MODES}, got {sagittal_sweeps!r}"
        )
    seeds = np.random.SeedSequence([seed, 0x5EEF]).spawn(len(ORIENTATIONS))
    plans = [
        _SweepPlan(o, o, None, s)
        for o, s in zip(ORIENTATIONS, seeds, strict=True)
        if o in orientations
    ]
    if sagittal_sweeps == "split" and "sagittal" in orientations:
        side_seeds = np.random.SeedSequence([seed, 0x5EEF, 0x51DE]).spawn(len(SIDES))
        plans = [p for p in plans if p.orientation != "sagittal"]
        plans += [
            _SweepPlan(f"sagittal_{side}", "sagittal", side, s)
            for side, s in zip(SIDES, side_seeds, strict=True)
        ]
    return plans


def _view_sweeps(sweeps: dict[str, Sweep]) -> dict[View, str]:
    """The sweep each view is picked from: one-sided sweeps give their own side's view and
    the midsagittal view comes from the one that passes closest to the midline."""
    if "sagittal" in sweeps or "sagittal_left" not in sweeps:
        return dict(VIEW_ORIENTATION)

    def msv_closeness(key: str) -> float:
        sweep = sweeps[key]
        i = sweep.ideal_frames.get(View.MSV)
        return -1.0 if i is None else sweep.truth[i].closeness

    msv = max(("sagittal_right", "sagittal_left"), key=msv_closeness)
    return dict(VIEW_ORIENTATION) | {
        View.MSV: msv,
        View.RPSV: "sagittal_right",
        View.LPSV: "sagittal_left",
    }


def render_case(
    seed: int,
    *,
    blind_sweep: bool = False,
    n_frames: int | None = None,
    frames_min: int = 80,
    frames_max: int = 250,
    width: int = 640,
    height: int = 480,
    severe_prevalence: float = 0.12,
    case_type: str | None = None,
    ga_weeks: float | None = None,
    style: str | None = None,
    overlays: bool = True,
    orientations: tuple[str, ...] = ORIENTATIONS,
    sagittal_sweeps: str = "combined",
    speckle_correlation: float | None = None,
    layout: str = "standard",
    lesion_masks: bool = False,
) -> PhantomCase:
    """Render one case, deterministically for a seed.

    ``case_type`` forces the lesion (see :data:`inference.phantom.lesions.CASE_TYPES`);
    otherwise it is drawn with ``severe_prevalence``. ``n_frames`` fixes the length of
    every sweep, else each is drawn from ``[frames_min, frames_max]``. The last three
    options are opt-in (their defaults give today's bytes): ``sagittal_sweeps="split"``
    renders ``sagittal_left`` and ``sagittal_right`` sweeps instead of one ``sagittal``;
    ``speckle_correlation`` (e.g. 0.99) lets speckle evolve smoothly between frames;
    ``layout="real"`` draws a scanner's fuller info bars. ``lesion_masks`` keeps each
    frame's lesion tissues (:meth:`PhantomCase.view_lesion_labels`); it changes no pixel.
    """
    if not 2 <= frames_min <= frames_max:
        raise ValueError(f"need 2 <= frames_min <= frames_max, got {frames_min}, {frames_max}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    plans = _sweep_plans(seed, orientations, sagittal_sweeps)
    # Independent streams: the same seed gives the same baby, style and hand movement
    # whatever the lesion, so lesion cases differ from normal ones only where they should.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence([seed, 0x5EED]).spawn(7)]
    rng_type, rng_meta, rng_style, rng_brain, rng_lesion, rng_picks = streams[:6]
    kind = case_type or sample_case_type(rng_type, severe_prevalence)
    labels = labels_for(kind)
    meta = sample_meta(rng_meta, ga_weeks)
    ga = meta.ga_weeks + meta.ga_days / 7.0
    machine = pick_style(rng_style, style)
    params = BrainParams.sample(rng_brain, ga)
    plan = plan_lesions(rng_lesion, kind)
    volume = build_brain(rng_brain, params, plan, lesion_rng=rng_lesion)
    head_depth = params.z_b + params.a_z * 1.0 + params.skull_mm + 4.0
    depth_mm = 5.0 * math.ceil(head_depth / 5.0)
    geometry = make_sector(
        width,
        height,
        half_angle_deg=machine.half_angle_deg,
        depth_mm=depth_mm,
        r0_mm=machine.r0_mm,
        top_margin=LAYOUT_TOP_MARGIN[layout],
    )
    sweeps: dict[str, Sweep] = {}
    for sweep_plan in plans:
        rng = np.random.default_rng(sweep_plan.seed)
        frames = n_frames or int(rng.integers(frames_min, frames_max + 1))
        overlay = (
            draw_overlays(
                geometry,
                machine,
                rng,
                orientation=sweep_plan.orientation,
                depth_mm=depth_mm,
                side=sweep_plan.side,
                layout=layout,
            )
            if overlays
            else None
        )
        sweeps[sweep_plan.key] = render_sweep(
            rng,
            volume,
            machine,
            geometry,
            sweep_plan.orientation,
            SweepOptions(
                n_frames=frames,
                blind=blind_sweep,
                speckle_correlation=speckle_correlation,
                side=sweep_plan.side,
                lesion_masks=lesion_masks,
            ),
            overlay,
        )
    view_sweeps = _view_sweeps(sweeps)
    picks: dict[View, int] = {}
    for view, key in view_sweeps.items():
        if key in sweeps:
            pick = junior_pick(rng_picks, sweeps[key], view)
            if pick is not None:
                picks[view] = pick
    return PhantomCase(
        seed=seed,
        case_type=kind,
        labels=labels,
        meta=meta,
        style=machine,
        plan=plan,
        volume=volume,
        sweeps=sweeps,
        view_picks=picks,
        blind_sweep=blind_sweep,
        view_sweeps=view_sweeps,
    )
