"""Per video: orientation, dropping, main clusters, sweep direction and each view's frame."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from core.labels import (
    CORONAL_VIEWS,
    DECLARED_ORIENTATIONS,
    SAGITTAL_VIEWS,
    SIDE_VIEWS,
    View,
    base_orientation,
)
from inference.ncls.detection.predict import FrameDetections
from inference.ncls.detection.views.clusters import Cluster, cluster_group
from inference.ncls.detection.views.frames import (
    COR1,
    COR2,
    COR3,
    CORONAL_GROUPS,
    GROUP_VIEW,
    SAG1,
    SAG2,
    SAGITTAL_GROUPS,
    FrameView,
    classify_frame,
)

#: A video is dropped when fewer than this fraction of its frames are candidates. DESIGN.md
#: says 20 %, for a detector that fires on most frames of a sweep; one trained on standard
#: planes (as the demo detector is) fires near the views only, about a third of a full
#: sweep and less of a slow one, so 20 % dropped good sweeps; 10 % still drops a video
#: that shows no view.
MIN_CANDIDATE_FRACTION = 0.1
#: DBSCAN parameters over (frame index, score) per orientation.
DBSCAN_PARAMS = {"coronal": (4.0, 3), "sagittal": (5.0, 3)}


@dataclass(frozen=True)
class ViewResult:
    """A chosen frame for a view, or the reason it is missing."""

    view: View
    frame_index: int | None = None
    score: float | None = None
    cluster: tuple[int, int] | None = None  # first and last frame of the main cluster
    missing_reason: str | None = None

    @property
    def found(self) -> bool:
        """A frame was chosen."""
        return self.frame_index is not None


@dataclass
class SweepAnalysis:
    """What one video gave: orientation, candidate fraction, direction and its views."""

    frame_count: int
    orientation: str | None
    candidate_fraction: float
    dropped_reason: str | None
    sweep_direction: str | None
    views: dict[View, ViewResult] = field(default_factory=dict)
    frames: list[FrameView] = field(default_factory=list)


def _missing(view: View, reason: str) -> ViewResult:
    """A view not found, with the reason."""
    return ViewResult(view=view, missing_reason=reason)


def _from_cluster(view: View, cluster: Cluster) -> ViewResult:
    """A view found: the cluster's best frame."""
    frame, score = cluster.best()
    return ViewResult(
        view=view,
        frame_index=frame,
        score=round(score, 4),
        cluster=(min(cluster.frames), max(cluster.frames)),
    )


def _main(clusters: list[Cluster]) -> Cluster | None:
    """The cluster of the largest total score, then of most frames; None if there is none."""
    return max(clusters, key=lambda c: (c.weight, len(c.frames))) if clusters else None


def analyse_sweep(
    detections: Sequence[FrameDetections],
    *,
    sagittal_starts_right: bool = True,
    orientation: str | None = None,
) -> SweepAnalysis:
    """Orientation, sweep direction and best frame per view of one video.

    ``sagittal_starts_right``: a sagittal sweep's anatomy is mirror-symmetric, so which side
    the probe starts on must be known from the acquisition protocol; by default the first
    parasagittal side in time is the right (RPSV).

    ``orientation``: the orientation the sweep was acquired in, where it is known (a
    coordinator declares it for every uploaded sweep). DESIGN.md decides by the larger
    number of candidate frames; a detector that fails on an unusual brain can then take a
    sagittal sweep for a coronal one and return "coronal" views cut from it. With the
    declared orientation, only that orientation's views are looked for, and a sweep whose
    frames do not look like it is dropped with the reason (not silently re-labelled).
    ``sagittal_left`` / ``sagittal_right`` declare a one-sided sagittal sweep (midline and
    one side, as most scanner protocols record them): its parasagittal frames are that
    side's view whichever side of the midline they lie on, and the other side is not sought.
    """
    if orientation not in (None, *DECLARED_ORIENTATIONS):
        raise ValueError(
            f"orientation must be one of {DECLARED_ORIENTATIONS} or None, got {orientation!r}"
        )
    side = SIDE_VIEWS.get(orientation or "")
    if orientation is not None:
        orientation = base_orientation(orientation)
    n = len(detections)
    frames = [classify_frame(d) for d in detections]
    n_cor = sum(fv.group in CORONAL_GROUPS for fv in frames)
    n_sag = sum(fv.group in SAGITTAL_GROUPS for fv in frames)
    if n == 0 or n_cor + n_sag == 0:
        reason = (
            "the video has no frames"
            if n == 0
            else (
                "no frame shows any view's structures above the score threshold "
                "(orientation unknown)"
            )
        )
        return SweepAnalysis(
            n, None, 0.0, reason, None, {v: _missing(v, reason) for v in View}, frames
        )
    declared = orientation if side is None else f"sagittal ({side.value} side only)"
    if orientation is not None:
        # a frame may be a candidate of both orientations: score it only as the declared one
        frames = [
            classify_frame(d, CORONAL_GROUPS if orientation == "coronal" else SAGITTAL_GROUPS)
            for d in detections
        ]
        fraction = sum(fv.group is not None for fv in frames) / n
    else:
        orientation = _majority_orientation(frames, n_cor, n_sag)
        fraction = max(n_cor, n_sag) / n
    views = CORONAL_VIEWS if orientation == "coronal" else SAGITTAL_VIEWS
    if fraction < MIN_CANDIDATE_FRACTION:
        reason = _dropped_reason(orientation, fraction, declared, n, n_cor, n_sag)
        return SweepAnalysis(
            n, orientation, fraction, reason, None, {v: _missing(v, reason) for v in views}, frames
        )
    eps, min_samples = DBSCAN_PARAMS[orientation]
    groups = CORONAL_GROUPS if orientation == "coronal" else SAGITTAL_GROUPS
    clusters = {g: cluster_group(frames, g, eps, min_samples) for g in groups}
    result = SweepAnalysis(n, orientation, fraction, None, None, frames=frames)
    if orientation == "coronal":
        _coronal_views(result, clusters, min_samples)
    else:
        _sagittal_views(result, clusters, min_samples, side, sagittal_starts_right)
    return result


def _majority_orientation(frames: list[FrameView], n_cor: int, n_sag: int) -> str:
    """DESIGN.md's rule: the orientation with more candidate frames (ties: higher scores)."""
    if n_cor != n_sag:
        return "coronal" if n_cor > n_sag else "sagittal"
    sums = {
        o: sum(fv.score for fv in frames if fv.group in g)
        for o, g in (("coronal", CORONAL_GROUPS), ("sagittal", SAGITTAL_GROUPS))
    }
    return max(sums, key=lambda o: sums[o])


def _dropped_reason(
    orientation: str, fraction: float, declared: str | None, n: int, n_cor: int, n_sag: int
) -> str:
    """Why a video with too few candidate frames is dropped (and how it contradicts a
    declared orientation)."""
    reason = (
        f"video dropped: only {fraction:.0%} of its frames are {orientation} candidates "
        f"(< {MIN_CANDIDATE_FRACTION:.0%})"
    )
    if declared is not None:
        other, n_other = ("sagittal", n_sag) if declared == "coronal" else ("coronal", n_cor)
        reason += f"; the sweep was declared {declared}"
        if n_other:
            reason += f", yet {n_other / n:.0%} of its frames look {other}"
    return reason


def _assigned(result: SweepAnalysis, group: str) -> int:
    """How many frames were classified into ``group``."""
    return sum(fv.group == group for fv in result.frames)


def _coronal_views(
    result: SweepAnalysis, clusters: dict[str, list[Cluster]], min_samples: int
) -> None:
    """AHV, TVV and BV from the ordered main clusters, and the sweep's direction."""
    mains = _ordered_mains(clusters)
    for g in CORONAL_GROUPS:
        view = GROUP_VIEW[g]
        main = mains[g]
        if main is not None:
            result.views[view] = _from_cluster(view, main)
        else:
            result.views[view] = _missing(
                view, _no_cluster_reason(_assigned(result, g), min_samples)
            )
    order = [mains[g] for g in (COR1, COR2, COR3)]
    present = [(i, c.center) for i, c in enumerate(order) if c is not None]
    if len(present) >= 2:
        (_i0, c0), (_i1, c1) = present[0], present[-1]
        result.sweep_direction = "anterior_to_posterior" if c0 < c1 else "posterior_to_anterior"


def _sagittal_views(
    result: SweepAnalysis,
    clusters: dict[str, list[Cluster]],
    min_samples: int,
    side: View | None,
    sagittal_starts_right: bool,
) -> None:
    """MSV, then the parasagittal views on either side of the midline (or the declared one)."""
    mid = _main(clusters[SAG1])
    if mid is not None:
        result.views[View.MSV] = _from_cluster(View.MSV, mid)
    else:
        result.views[View.MSV] = _missing(
            View.MSV, _no_cluster_reason(_assigned(result, SAG1), min_samples)
        )
    para = clusters[SAG2]
    if side is not None:
        _one_side(result, side, para, _assigned(result, SAG2), min_samples)
        return
    midline = _midline_frame(mid, para)
    first_side = View.RPSV if sagittal_starts_right else View.LPSV
    second_side = View.LPSV if sagittal_starts_right else View.RPSV
    if midline is None:
        reason = (
            "no midline: without a midsagittal cluster a single parasagittal cluster "
            "cannot be assigned to a side"
            if para
            else _no_cluster_reason(_assigned(result, SAG2), min_samples)
        )
        result.views[View.RPSV] = _missing(View.RPSV, reason)
        result.views[View.LPSV] = _missing(View.LPSV, reason)
        return
    before = _main([c for c in para if c.center < midline])
    after = _main([c for c in para if c.center > midline])
    for view, cl, where in ((first_side, before, "before"), (second_side, after, "after")):
        if cl is not None:
            result.views[view] = _from_cluster(view, cl)
        else:
            result.views[view] = _missing(
                view, f"no parasagittal cluster {where} the midline (frame {midline:.0f})"
            )
    result.sweep_direction = "right_to_left" if sagittal_starts_right else "left_to_right"


def _midline_frame(mid: Cluster | None, para: list[Cluster]) -> float | None:
    """Frame of the midline: the MSV cluster's centre, else the largest gap between
    parasagittal clusters; None when neither exists."""
    if mid is not None:
        return mid.center
    if len(para) >= 2:
        centers = sorted(c.center for c in para)
        gaps = np.diff(centers)
        k = int(np.argmax(gaps))
        return (centers[k] + centers[k + 1]) / 2
    return None


def _one_side(
    result: SweepAnalysis, side: View, para: list[Cluster], assigned: int, min_samples: int
) -> None:
    """Views of a sweep declared one-sided: its main parasagittal cluster is ``side``'s view."""
    other = View.LPSV if side == View.RPSV else View.RPSV
    main = _main(para)
    result.views[side] = (
        _from_cluster(side, main)
        if main is not None
        else _missing(side, _no_cluster_reason(assigned, min_samples))
    )
    result.views[other] = _missing(
        other, f"the sweep was declared one-sided ({side.value} side only)"
    )


def _ordered_mains(clusters: dict[str, list[Cluster]]) -> dict[str, Cluster | None]:
    """One cluster per coronal group, the set that lies in anatomical order.

    A coronal sweep passes the anterior horns (AHV), the third ventricle (TVV) and the
    bodies (BV) in this order or its reverse, so a COR1 cluster on the far side of the BV
    (callosum seen behind the third ventricle) cannot be the AHV. Among the ordered choices
    the one with the most views wins, then the largest total weight (DESIGN.md's "main
    cluster" when there is no conflict).
    """
    options = [[*clusters[g], None] for g in (COR1, COR2, COR3)]
    best: tuple[tuple[int, float], tuple[Cluster | None, ...]] = ((0, 0.0), (None, None, None))
    for combo in itertools.product(*options):
        centers = [c.center for c in combo if c is not None]
        if centers != sorted(centers) and centers != sorted(centers, reverse=True):
            continue
        key = (len(centers), sum(c.weight for c in combo if c is not None))
        if key > best[0]:
            best = (key, combo)
    return dict(zip((COR1, COR2, COR3), best[1], strict=True))


def _no_cluster_reason(assigned: int, min_samples: int) -> str:
    """Why a view was not found although ``assigned`` frames were classified as it."""
    if assigned == 0:
        return "no frame shows this view's structures above the score threshold"
    return (
        f"{assigned} frame(s) matched the view but formed no cluster "
        f"(DBSCAN needs {min_samples} close frames): treated as stray frames"
    )
