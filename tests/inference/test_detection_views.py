"""View rules, scores, orientation, DBSCAN sweep analysis on synthetic detection sequences."""

from __future__ import annotations

import numpy as np
import pytest

from core.labels import ANATOMY_CLASSES, View
from inference.ncls.detection.predict import FrameDetections
from inference.ncls.detection.views import (
    COR1,
    COR2,
    COR3,
    SAG1,
    SAG2,
    Cluster,
    analyse_sweep,
    candidate_groups,
    classify_frame,
    group_score,
)

C = {name: i for i, name in enumerate(ANATOMY_CLASSES)}

# Structures shown in each view, by construction.
SHOWN = {
    View.AHV: ["cor_corpus_callosum", "cor_anterior_horn", "cor_anterior_horn"],
    View.TVV: [
        "cor_corpus_callosum",
        "cor_anterior_horn",
        "cor_anterior_horn",
        "cor_third_ventricle",
        "cor_thalamus",
        "cor_thalamus",
    ],
    View.BV: ["cor_lateral_ventricle", "cor_lateral_ventricle"],
    View.MSV: ["sag_corpus_callosum", "sag_trigone", "sag_cerebellum"],
    View.RPSV: ["sag_lateral_ventricle", "sag_thalamus"],
    View.LPSV: ["sag_lateral_ventricle", "sag_thalamus"],
}


def frame(index: int, names: list[str], conf: float | list[float] = 0.9) -> FrameDetections:
    confs = [conf] * len(names) if isinstance(conf, float) else conf
    return FrameDetections(
        index,
        np.zeros((len(names), 5)),
        np.array([C[n] for n in names], dtype=np.int64),
        np.array(confs, dtype=float),
    )


def sweep(
    segments: list[tuple[View, int, int, int]], total: int, strays: dict[int, View] | None = None
) -> list[FrameDetections]:
    """Frames showing a view over [start, end] with confidence peaking at ``ideal``."""
    out = [frame(i, []) for i in range(total)]
    for view, start, end, ideal in segments:
        half = max(ideal - start, end - ideal, 1)
        for i in range(start, end + 1):
            out[i] = frame(i, SHOWN[view], 0.95 - 0.3 * abs(i - ideal) / half)
    for i, view in (strays or {}).items():
        out[i] = frame(i, SHOWN[view], 0.99)
    return out


def test_rules() -> None:
    assert candidate_groups(frame(0, SHOWN[View.TVV])) == [COR2]
    assert candidate_groups(frame(0, ["cor_corpus_callosum"])) == [COR1]
    assert candidate_groups(frame(0, ["cor_corpus_callosum", "cor_lateral_ventricle"])) == [
        COR1,
        COR3,
    ]
    assert candidate_groups(frame(0, ["sag_corpus_callosum"])) == []  # MSV needs two of three
    assert candidate_groups(frame(0, ["sag_corpus_callosum", "sag_cerebellum"])) == [SAG1]
    assert candidate_groups(frame(0, ["sag_thalamus"])) == [SAG2]
    assert candidate_groups(frame(0, [])) == []


def test_scores_weights_limits_and_penalty() -> None:
    # COR2: callosum .2 + 2 horns × .1 + third ventricle .4 + 2 thalami × .1, all at confidence 1
    assert group_score(frame(0, SHOWN[View.TVV], 1.0), COR2) == pytest.approx(1.0)
    # a third anterior horn is beyond the limit: not counted, not penalised
    three_horns = [*SHOWN[View.TVV], "cor_anterior_horn"]
    assert group_score(frame(0, three_horns, 1.0), COR2) == pytest.approx(1.0)
    # a foreign detection costs 0.2 × its confidence
    assert group_score(
        frame(0, ["cor_lateral_ventricle", "cor_thalamus"], [1.0, 0.5]), COR3
    ) == pytest.approx(0.5 - 0.1)
    assert group_score(
        frame(0, ["sag_lateral_ventricle", "sag_thalamus"], 1.0), SAG2
    ) == pytest.approx(1.0)
    assert group_score(frame(0, SHOWN[View.MSV], 1.0), SAG1) == pytest.approx(0.99)
    # the frame takes its best candidate
    fv = classify_frame(
        frame(3, ["cor_corpus_callosum", "cor_lateral_ventricle", "cor_lateral_ventricle"], 1.0)
    )
    assert (fv.frame_index, fv.group) == (3, COR3)


def test_coronal_sweep_views_direction_and_strays() -> None:
    dets = sweep(
        [(View.AHV, 10, 22, 15), (View.TVV, 35, 50, 43), (View.BV, 65, 80, 71)],
        100,
        strays={90: View.TVV, 3: View.BV},
    )
    result = analyse_sweep(dets)
    assert result.orientation == "coronal" and result.dropped_reason is None
    assert result.sweep_direction == "anterior_to_posterior"
    chosen = {v: r.frame_index for v, r in result.views.items()}
    # clusters of >= 6 frames pull the choice towards their centre (Gaussian weighting)
    assert all(
        abs((chosen[v] or -99) - ideal) <= 1
        for v, ideal in ((View.AHV, 15), (View.TVV, 43), (View.BV, 71))
    )
    # reversed sweep
    rev = analyse_sweep(
        [
            frame(99 - d.frame_index, [ANATOMY_CLASSES[c] for c in d.classes], list(d.scores))
            for d in reversed(dets)
        ]
    )
    assert rev.sweep_direction == "posterior_to_anterior"
    assert abs((rev.views[View.TVV].frame_index or -99) - (99 - 43)) <= 1


def test_sagittal_split_and_side_convention() -> None:
    dets = sweep([(View.RPSV, 10, 25, 18), (View.MSV, 40, 52, 46), (View.LPSV, 65, 80, 73)], 95)
    result = analyse_sweep(dets)
    assert result.orientation == "sagittal"
    assert result.views[View.MSV].frame_index == 46
    assert (result.views[View.RPSV].frame_index, result.views[View.LPSV].frame_index) == (18, 73)
    assert result.sweep_direction == "right_to_left"
    flipped = analyse_sweep(dets, sagittal_starts_right=False)
    assert (flipped.views[View.LPSV].frame_index, flipped.views[View.RPSV].frame_index) == (18, 73)


def test_missing_views_have_reasons_and_are_never_invented() -> None:
    # No BV at all, and AHV only as two stray frames (below DBSCAN's min_samples).
    dets = sweep([(View.TVV, 20, 40, 30)], 60, strays={5: View.AHV, 50: View.AHV})
    result = analyse_sweep(dets)
    assert result.views[View.TVV].found
    bv, ahv = result.views[View.BV], result.views[View.AHV]
    assert not bv.found and bv.frame_index is None and "no frame" in (bv.missing_reason or "")
    assert not ahv.found and "stray" in (ahv.missing_reason or "")
    # A sagittal sweep without midline: one parasagittal cluster cannot be given a side.
    sag = analyse_sweep(sweep([(View.RPSV, 10, 30, 20)], 40))
    assert not sag.views[View.RPSV].found and not sag.views[View.LPSV].found
    assert "midline" in (sag.views[View.RPSV].missing_reason or "")


def test_video_dropped_below_ten_percent() -> None:
    dets = sweep([(View.TVV, 10, 16, 13)], 100)  # 7 % candidates
    result = analyse_sweep(dets)
    assert result.dropped_reason is not None and "7%" in result.dropped_reason
    assert all(not r.found for r in result.views.values())
    kept = analyse_sweep(sweep([(View.TVV, 10, 21, 15)], 100))  # 12 %: a sweep near one view
    assert kept.dropped_reason is None and kept.views[View.TVV].found
    assert analyse_sweep([]).orientation is None


def test_gaussian_weighting_for_large_clusters() -> None:
    # A late spike at the edge of a long cluster loses against the cluster's centre.
    frames = tuple(range(10, 22))
    scores = tuple([0.80] * 5 + [0.82] + [0.80] * 5 + [0.9])
    assert Cluster(COR2, frames, scores).best()[0] == 15
    short = Cluster(COR2, frames[:5], (0.5, 0.6, 0.5, 0.5, 0.9))
    assert short.best() == (14, 0.9)  # < 6 frames: the raw maximum


def test_coronal_clusters_are_taken_in_anatomical_order() -> None:
    # AHV frames 5-15, TVV 30-40, BV 60-70, and a heavier callosum-only run at 80-95 (behind
    # the bodies): the heaviest COR1 cluster lies on the wrong side, so the AHV is 5-15.
    frames = sweep([(View.AHV, 5, 15, 10), (View.TVV, 30, 40, 35), (View.BV, 60, 70, 65)], 100)
    for i in range(80, 96):
        frames[i] = frame(i, SHOWN[View.AHV], 0.97)
    result = analyse_sweep(frames)
    assert result.views[View.AHV].cluster == (5, 15)
    assert result.views[View.AHV].frame_index == 10
    assert result.sweep_direction == "anterior_to_posterior"


def test_view_rules_count_the_structures_the_views_are_annotated_with() -> None:
    from core.labels import VIEW_STRUCTURES
    from inference.ncls.detection.views import VIEW_WEIGHTS

    groups = {
        View.AHV: COR1,
        View.TVV: COR2,
        View.BV: COR3,
        View.MSV: SAG1,
        View.RPSV: SAG2,
        View.LPSV: SAG2,
    }
    for view, group in groups.items():
        assert {ANATOMY_CLASSES[c] for c in VIEW_WEIGHTS[group]} == VIEW_STRUCTURES[view], view


def test_declared_orientation_overrides_the_vote_and_never_relabels() -> None:
    # A sagittal sweep whose detections mostly look coronal (as a detector lost on an unusual
    # brain produces): by vote it becomes "coronal" and yields a coronal view cut from it.
    dets = sweep([(View.AHV, 5, 40, 20), (View.MSV, 50, 60, 55)], 80)
    assert analyse_sweep(dets).orientation == "coronal"
    declared = analyse_sweep(dets, orientation="sagittal")
    assert declared.orientation == "sagittal" and set(declared.views) == {
        View.MSV,
        View.RPSV,
        View.LPSV,
    }
    assert declared.views[View.MSV].frame_index == 55
    assert abs(declared.candidate_fraction - 11 / 80) < 1e-9
    # declared coronal: only 0 % coronal candidates left after MSV-only frames -> dropped, with why
    only_sag = sweep([(View.MSV, 30, 60, 45)], 80)
    dropped = analyse_sweep(only_sag, orientation="coronal")
    assert dropped.dropped_reason is not None
    assert (
        "declared coronal" in dropped.dropped_reason
        and "39% of its frames look sagittal" in dropped.dropped_reason
    )
    assert set(dropped.views) == {View.AHV, View.TVV, View.BV} and not any(
        r.found for r in dropped.views.values()
    )
    # a frame that is a candidate of both orientations counts as the declared one
    both = [frame(i, ["cor_corpus_callosum", "sag_thalamus"], [0.9, 0.5]) for i in range(10)]
    assert analyse_sweep(both).orientation == "coronal"
    as_sag = analyse_sweep(both, orientation="sagittal")
    assert {fv.group for fv in as_sag.frames} == {"SAG2"}
    with pytest.raises(ValueError, match="orientation must be"):
        analyse_sweep(dets, orientation="axial")
