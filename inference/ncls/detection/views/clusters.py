"""Per view group: DBSCAN clusters of candidate frames over (frame index, score)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import DBSCAN

from inference.ncls.detection.views.frames import FrameView

#: Clusters of at least this many frames weight scores by a Gaussian of their frames.
GAUSSIAN_MIN_FRAMES = 6


@dataclass(frozen=True)
class Cluster:
    """Frames of one DBSCAN cluster of a view group."""

    group: str
    frames: tuple[int, ...]
    scores: tuple[float, ...]

    @property
    def center(self) -> float:
        """Mean frame index."""
        return float(np.mean(self.frames))

    @property
    def weight(self) -> float:
        """Sum of the frames' scores."""
        return float(np.sum(self.scores))

    def best(self) -> tuple[int, float]:
        """(frame index, raw score) of the best frame, Gaussian-weighted for ≥ 6 frames."""
        f = np.asarray(self.frames, dtype=float)
        s = np.asarray(self.scores, dtype=float)
        if len(f) >= GAUSSIAN_MIN_FRAMES:
            sigma = max(float(f.std()), 1.0)
            weighted = s * np.exp(-0.5 * ((f - f.mean()) / sigma) ** 2)
        else:
            weighted = s
        i = int(np.argmax(weighted))
        return int(f[i]), float(s[i])


def cluster_group(
    frames: Sequence[FrameView], group: str, eps: float, min_samples: int
) -> list[Cluster]:
    """DBSCAN over (frame index, score) of the frames assigned to ``group``; noise dropped."""
    pts = [(fv.frame_index, fv.score) for fv in frames if fv.group == group]
    if len(pts) < min_samples:
        return []
    arr = np.asarray(pts, dtype=float)
    labels = DBSCAN(eps=eps, min_samples=min_samples).fit(arr).labels_
    clusters = []
    for lab in sorted(set(labels.tolist()) - {-1}):
        sel = arr[labels == lab]
        clusters.append(
            Cluster(group, tuple(int(v) for v in sel[:, 0]), tuple(float(v) for v in sel[:, 1]))
        )
    return clusters
