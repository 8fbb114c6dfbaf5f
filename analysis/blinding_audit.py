"""Can a machine tell AI material from junior material? (pure: no Django)

The blinded source trial is only blind if nothing a reviewer's browser can observe
separates the two sources. This audit extracts every such property of each material's
renditions — file sizes, dimensions, encoding parameters, crop geometry, intensity
statistics, frame positions within the sweep, serving latency — and trains a
cross-validated classifier to predict the source. Its out-of-fold AUC, with a DeLong
CI, should be compatible with 0.5; when the CI lies above 0.5 the sources are
distinguishable and the audit warns.

One cross-validation is one draw of folds and of forests: its AUC moves by a few
hundredths from one seed to the next. The audit therefore averages each material's
out-of-fold probability over ``n_seeds`` cross-validations (each with its own folds and
forest seed) and takes the AUC of the average. Given the seeds the result is a
deterministic function of the features (whatever ``n_jobs``): two runs on the same
material differ only where a feature does, i.e. in the measured serving latency, which
the caller therefore puts on a grid that measurement noise does not cross
(:func:`analysis.blinding._at_repeatability`; tests/analysis/
test_blinding_audit_reproducible.py holds two runs within ±0.01).

Cases differ from one another far more than sources do, so the audit should see both
sources of the same cases and keep each case's materials in one fold (``group``):
otherwise "AI vs junior" is confounded with "these cases vs those" — exactly what a
blinded review's allocation does (each senior sees one source per case).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict

from analysis.stats import ConfidenceInterval, roc_auc


def png_chunks(data: bytes) -> list[str]:
    """The chunk types of a PNG file in order (encoding parameters a browser can read)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return ["not-png"]
    chunks, offset = [], 8
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        chunks.append(data[offset + 4 : offset + 8].decode("latin-1"))
        offset += 12 + length
    return chunks


def image_features(data: bytes) -> dict[str, float]:
    """Observable properties of one rendered view image."""
    image = Image.open(io.BytesIO(data))
    pixels = np.asarray(image.convert("L"))
    nonzero = pixels > 0
    inside = pixels[nonzero].astype(np.float64)
    rows = np.flatnonzero(nonzero.any(axis=1))
    cols = np.flatnonzero(nonzero.any(axis=0))
    header = data[16:29] if data[:8] == b"\x89PNG\r\n\x1a\n" else b"\0" * 13
    _width, _height, bit_depth, colour_type = (
        struct.unpack(">IIBB", header[:10]) if len(header) >= 10 else (0, 0, 0, 0)
    )
    chunks = png_chunks(data)
    p10, p50, p90 = np.percentile(inside, (10, 50, 90)) if inside.size else (0.0, 0.0, 0.0)
    return {
        "file_bytes": float(len(data)),
        "width": float(image.width),
        "height": float(image.height),
        "bit_depth": float(bit_depth),
        "colour_type": float(colour_type),
        "chunk_count": float(len(chunks)),
        "chunk_signature": float(zlib.crc32(",".join(chunks).encode()) % 997),
        "crop_top": float(rows[0]) if rows.size else 0.0,
        "crop_bottom": float(rows[-1]) if rows.size else 0.0,
        "crop_left": float(cols[0]) if cols.size else 0.0,
        "crop_right": float(cols[-1]) if cols.size else 0.0,
        "sector_fraction": float(inside.size / max(pixels.size, 1)),
        "mean": float(inside.mean()) if inside.size else 0.0,
        "std": float(inside.std()) if inside.size else 0.0,
        "p10": float(p10),
        "p50": float(p50),
        "p90": float(p90),
        "dark_fraction": float((inside < 30).mean()) if inside.size else 0.0,
    }


@dataclass(frozen=True)
class MaterialObservation:
    """What a reviewer's browser could observe of one material set."""

    source: str  # "ai" or "junior": the label the audit tries to predict
    images: Mapping[str, bytes]  # view -> rendition bytes
    frame_positions: Mapping[str, float]  # view -> frame index / frame count (0–1)
    missing_views: int
    latency_ms: float
    group: str = ""  # the case: materials of one case never straddle a training/test split


def material_features(observation: MaterialObservation, views: Sequence[str]) -> list[float]:
    """One feature row: per view its image features and frame position, plus set-level ones."""
    row: list[float] = [float(observation.missing_views), observation.latency_ms]
    for view in views:
        data = observation.images.get(view)
        features = image_features(data) if data else {}
        row.extend(features.get(name, -1.0) for name in _IMAGE_FEATURE_NAMES)
        row.append(observation.frame_positions.get(view, -1.0))
    return row


_IMAGE_FEATURE_NAMES: tuple[str, ...] = (
    "file_bytes",
    "width",
    "height",
    "bit_depth",
    "colour_type",
    "chunk_count",
    "chunk_signature",
    "crop_top",
    "crop_bottom",
    "crop_left",
    "crop_right",
    "sector_fraction",
    "mean",
    "std",
    "p10",
    "p50",
    "p90",
    "dark_fraction",
)


@dataclass(frozen=True)
class BlindingAuditResult:
    """Out-of-fold AUC of the source classifier and whether the sources are distinguishable."""

    auc: float
    ci: ConfidenceInterval
    n_ai: int
    n_junior: int
    distinguishable: bool
    top_features: tuple[tuple[str, float], ...]
    n_seeds: int = 1
    seed_auc_range: tuple[float, float] = (float("nan"), float("nan"))
    method: str = (
        "random forest (100 trees), out-of-fold probabilities from 5-fold cross-validation "
        "stratified by source and grouped by case, averaged over several cross-validation seeds "
        "(folds and forests); DeLong CI of the averaged probabilities"
    )

    @property
    def warning(self) -> str:
        if not self.distinguishable:
            return ""
        names = ", ".join(name for name, _ in self.top_features[:3])
        return (
            f"AI and junior material are distinguishable by machine (AUC {self.auc:.2f}, "
            f"CI {self.ci.low:.2f}–{self.ci.high:.2f}); strongest cues: {names}"
        )


#: Cross-validation seeds averaged by default (see the module doc).
DEFAULT_SEEDS = 8
N_TREES = 100


def _out_of_fold(
    features: np.ndarray, labels: np.ndarray, groups: list[str], seed: int, n_jobs: int | None
) -> np.ndarray:
    n_splits = min(5, int(labels.sum()), int((1 - labels).sum()))
    classifier = RandomForestClassifier(
        n_estimators=N_TREES, min_samples_leaf=2, random_state=seed, n_jobs=n_jobs
    )
    if all(groups):
        # Grouped by case: a classifier that learnt a case's look from one of its
        # materials is never tested on the other, so only source cues can score.
        grouped = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        return cross_val_predict(
            classifier, features, labels, cv=grouped, groups=groups, method="predict_proba"
        )[:, 1]
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return cross_val_predict(classifier, features, labels, cv=folds, method="predict_proba")[:, 1]


def blinding_audit(
    observations: Sequence[MaterialObservation],
    views: Sequence[str],
    *,
    seed: int = 0,
    level: float = 0.95,
    n_seeds: int = DEFAULT_SEEDS,
    n_jobs: int | None = None,
    features: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BlindingAuditResult:
    """Cross-validated source classifier over observable properties of the material.

    Out-of-fold probabilities are averaged over ``n_seeds`` cross-validations (seeds
    ``seed`` … ``seed + n_seeds - 1``); ``progress(k, n_seeds)`` after each. ``features``:
    the rows of :func:`audit_features` when the caller computed them already.
    """
    labels = np.array([1 if o.source == "ai" else 0 for o in observations])
    n_ai, n_junior = int(labels.sum()), int((1 - labels).sum())
    if min(n_ai, n_junior) < 5:
        raise ValueError(
            f"the audit needs at least 5 materials of each source (AI {n_ai}, junior {n_junior})"
        )
    names = ["missing_views", "latency_ms"] + [
        f"{view}.{name}" for view in views for name in (*_IMAGE_FEATURE_NAMES, "frame_position")
    ]
    if features is None:
        features = audit_features(observations, views)
    groups = [o.group for o in observations]
    total = np.zeros(len(labels))
    seed_aucs = []
    for k in range(n_seeds):
        probabilities = _out_of_fold(features, labels, groups, seed + k, n_jobs)
        total += probabilities
        seed_aucs.append(roc_auc(labels, probabilities, level=level).auc)
        if progress:
            progress(k + 1, n_seeds)
    auc = roc_auc(labels, total / n_seeds, level=level)
    classifier = RandomForestClassifier(
        n_estimators=N_TREES, min_samples_leaf=2, random_state=seed, n_jobs=n_jobs
    )
    classifier.fit(features, labels)
    ranked = sorted(zip(names, classifier.feature_importances_, strict=True), key=lambda p: -p[1])
    return BlindingAuditResult(
        auc=auc.auc,
        ci=auc.ci,
        n_ai=n_ai,
        n_junior=n_junior,
        distinguishable=auc.ci.low > 0.5,
        top_features=tuple((n, float(v)) for n, v in ranked[:8]),
        n_seeds=n_seeds,
        seed_auc_range=(float(min(seed_aucs)), float(max(seed_aucs))),
    )


def audit_features(
    observations: Sequence[MaterialObservation],
    views: Sequence[str],
    progress: Callable[[int, int], None] | None = None,
    n_jobs: int | None = None,
) -> np.ndarray:
    """The feature matrix of the observations (one row each); ``progress(i, n)`` as it goes.

    ``n_jobs`` threads decode the images (Pillow and numpy release the GIL while they
    decode and sort); ``None`` or 1: one, -1: one per core.
    """
    workers = (os.cpu_count() or 1) if n_jobs == -1 else max(n_jobs or 1, 1)
    rows = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for index, row in enumerate(pool.map(lambda o: material_features(o, views), observations)):
            rows.append(row)
            if progress:
                progress(index + 1, len(observations))
    return np.array(rows)
