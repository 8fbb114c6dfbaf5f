"""Standard views from per-frame detections of one sweep (DESIGN.md, stage 1).

Per frame: candidate views by rule, a score per view (weighted confidences of the view's
structures, each counted up to a limit, minus 0.2 × the confidence of every detection
that does not belong to the view). Per video: orientation as declared at upload where
known, else by the larger number of candidate frames; dropped below 10 % candidates;
DBSCAN over (frame index, score) per view removes stray frames; coronal clusters are
taken in anatomical order (AHV, TVV, BV or its reverse); the order of clusters gives the
sweep direction and splits parasagittal frames into the two sides of the midline; the
best frame of a view is the highest (Gaussian-weighted, for clusters of ≥ 6 frames) score
of its main cluster.
Anything not found is reported missing with its reason; nothing is invented.

Modules: :mod:`.frames` (a frame's candidate view groups and score), :mod:`.clusters`
(DBSCAN per view group), :mod:`.sweep` (a video's orientation and views).
"""

from inference.ncls.detection.views.clusters import GAUSSIAN_MIN_FRAMES, Cluster, cluster_group
from inference.ncls.detection.views.frames import (
    CLS,
    COR1,
    COR2,
    COR3,
    CORONAL_GROUPS,
    FOREIGN_PENALTY,
    GROUP_VIEW,
    SAG1,
    SAG2,
    SAGITTAL_GROUPS,
    VIEW_WEIGHTS,
    FrameView,
    candidate_groups,
    classify_frame,
    group_score,
)
from inference.ncls.detection.views.sweep import (
    DBSCAN_PARAMS,
    MIN_CANDIDATE_FRACTION,
    SweepAnalysis,
    ViewResult,
    analyse_sweep,
)

__all__ = [
    "CLS",
    "COR1",
    "COR2",
    "COR3",
    "CORONAL_GROUPS",
    "DBSCAN_PARAMS",
    "FOREIGN_PENALTY",
    "GAUSSIAN_MIN_FRAMES",
    "GROUP_VIEW",
    "MIN_CANDIDATE_FRACTION",
    "SAG1",
    "SAG2",
    "SAGITTAL_GROUPS",
    "VIEW_WEIGHTS",
    "Cluster",
    "FrameView",
    "SweepAnalysis",
    "ViewResult",
    "analyse_sweep",
    "candidate_groups",
    "classify_frame",
    "cluster_group",
    "group_score",
]
