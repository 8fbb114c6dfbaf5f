"""Per frame: which view groups its detections make it a candidate for, and its score."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.labels import ANATOMY_CLASSES, View
from inference.ncls.detection.predict import FrameDetections

CLS = {name: i for i, name in enumerate(ANATOMY_CLASSES)}

#: Frame-level view groups (the paper's COR1–3, SAG1–2); SAG2 becomes RPSV or LPSV later.
COR1, COR2, COR3, SAG1, SAG2 = "COR1", "COR2", "COR3", "SAG1", "SAG2"
CORONAL_GROUPS = (COR1, COR2, COR3)
SAGITTAL_GROUPS = (SAG1, SAG2)
GROUP_VIEW = {COR1: View.AHV, COR2: View.TVV, COR3: View.BV, SAG1: View.MSV}

#: Per view group: class index → (weight, how many detections of it count). Paired
#: structures (anterior horns, thalami, lateral ventricles in coronal planes) count twice.
VIEW_WEIGHTS: dict[str, dict[int, tuple[float, int]]] = {
    COR1: {
        CLS["cor_corpus_callosum"]: (0.3, 1),
        CLS["cor_anterior_horn"]: (0.2, 2),
        CLS["cor_thalamus"]: (0.15, 2),
    },
    COR2: {
        CLS["cor_corpus_callosum"]: (0.2, 1),
        CLS["cor_anterior_horn"]: (0.1, 2),
        CLS["cor_thalamus"]: (0.1, 2),
        CLS["cor_third_ventricle"]: (0.4, 1),
    },
    COR3: {CLS["cor_lateral_ventricle"]: (0.5, 2)},
    SAG1: {
        CLS["sag_corpus_callosum"]: (0.33, 1),
        CLS["sag_trigone"]: (0.33, 1),
        CLS["sag_cerebellum"]: (0.33, 1),
    },
    SAG2: {CLS["sag_lateral_ventricle"]: (0.3, 1), CLS["sag_thalamus"]: (0.7, 1)},
}
#: Penalty per detection that does not belong to the view, times its confidence.
FOREIGN_PENALTY = 0.2


def candidate_groups(det: FrameDetections) -> list[str]:
    """View groups whose rule fires on this frame's detections."""
    present = {int(c) for c in det.classes}
    groups = []
    if CLS["cor_third_ventricle"] in present:
        groups.append(COR2)
    elif CLS["cor_corpus_callosum"] in present:
        groups.append(COR1)
    if CLS["cor_lateral_ventricle"] in present:
        groups.append(COR3)
    midline = {CLS["sag_corpus_callosum"], CLS["sag_trigone"], CLS["sag_cerebellum"]}
    if len(present & midline) >= 2:
        groups.append(SAG1)
    if present & {CLS["sag_lateral_ventricle"], CLS["sag_thalamus"]}:
        groups.append(SAG2)
    return groups


def group_score(det: FrameDetections, group: str) -> float:
    """Weighted confidences of the group's structures (each up to its limit) minus penalties."""
    weights = VIEW_WEIGHTS[group]
    score = 0.0
    order = np.argsort(-np.asarray(det.scores, dtype=float))
    used: dict[int, int] = {}
    for i in order:
        c, s = int(det.classes[i]), float(det.scores[i])
        if c in weights:
            w, limit = weights[c]
            if used.get(c, 0) < limit:
                score += w * s
                used[c] = used.get(c, 0) + 1
        else:
            score -= FOREIGN_PENALTY * s
    return score


@dataclass(frozen=True)
class FrameView:
    """A frame's chosen view group and its score (group None: not a candidate)."""

    frame_index: int
    group: str | None
    score: float


def classify_frame(det: FrameDetections, allowed: Sequence[str] | None = None) -> FrameView:
    """The best-scoring candidate group of a frame (among ``allowed`` groups, if given)."""
    groups = [g for g in candidate_groups(det) if allowed is None or g in allowed]
    if not groups:
        return FrameView(det.frame_index, None, 0.0)
    scored = [(group_score(det, g), g) for g in groups]
    score, group = max(scored)
    return FrameView(det.frame_index, group, score)
