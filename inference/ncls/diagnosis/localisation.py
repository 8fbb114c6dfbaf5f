"""Do the heatmaps point at the lesion? Localisation of Finer-CAM on phantom cases.

The phantom knows where each lesion is (``python -m inference.phantom generate
--lesion-masks`` writes ``views/<code>_<VIEW>_lesion.png``: per pixel the IMAGE_LABELS index
of the lesion shown, 0 none). For every view and every lesion label visible on it (at least
``min_pixels`` pixels), the view's heatmap **for that label** is resized to the cropped
sector, as the overlay shows it, and scored:

* **pointing game**: is the heatmap's maximum inside the lesion? (hit rate, with an exact
  Clopper–Pearson interval);
* **mass share**: the heatmap's sum inside the lesion over its sum over the whole crop
  (mass outside the sector counts against it);
* **chance**: the lesion's share of the sector — the expected hit rate of a point drawn
  uniformly in the sector, and the mass share of a heatmap flat over the sector.

``python -m inference.ncls evaluate-heatmaps --models DIR --data PHANTOM_DIR [--cases N]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from statsmodels.stats.proportion import proportion_confint

from core.labels import IMAGE_LABELS, Condition, View
from core.roi import find_sector

from .data import load_rgb, read_manifest
from .heatmaps import DEFAULT_SETTINGS, CamSettings, frame_heatmaps
from .predict import DiagnosisEnsemble

#: A lesion smaller than this (pixels of the cropped frame) is not scored on a view.
MIN_LESION_PIXELS = 20
#: Hit rate's confidence level.
CONFIDENCE = 0.95


def pointing_hit(heatmap: np.ndarray, lesion: np.ndarray) -> bool:
    """Whether the heatmap's maximum lies inside ``lesion`` (ties: any maximal pixel)."""
    if heatmap.shape != lesion.shape:
        raise ValueError(f"heatmap {heatmap.shape} and mask {lesion.shape} differ in shape")
    top = float(heatmap.max())
    if top <= 0:
        return False  # an empty map points nowhere
    return bool(lesion[heatmap >= top].any())


def mass_share(heatmap: np.ndarray, lesion: np.ndarray) -> float:
    """Share of the (non-negative) heatmap's sum that lies inside ``lesion``; 0 for an empty map."""
    if heatmap.shape != lesion.shape:
        raise ValueError(f"heatmap {heatmap.shape} and mask {lesion.shape} differ in shape")
    weights = np.clip(heatmap.astype(np.float64), 0.0, None)
    total = float(weights.sum())
    return float(weights[lesion].sum()) / total if total > 0 else 0.0


def lesion_share(lesion: np.ndarray, sector: np.ndarray) -> float:
    """The lesion's share of the sector (chance level of both figures)."""
    area = int(sector.sum())
    return int((lesion & sector).sum()) / area if area else 0.0


@dataclass(frozen=True)
class ViewScore:
    """One (view, lesion label) pair scored."""

    code: str
    view: str
    label: str
    target: str  # the label the heatmap was made for
    hit: bool
    mass_share: float
    chance: float
    lesion_pixels: int


@dataclass(frozen=True)
class Sample:
    """A view frame, its lesion label image (IMAGE_LABELS indices), and the labels to score."""

    code: str
    view: str
    frame: np.ndarray
    labels: np.ndarray
    lesions: tuple[int, ...]


def _image_label_index(name: str) -> int:
    return IMAGE_LABELS.index(Condition(name))


def phantom_samples(
    data: Path, *, cases: int | None = None, min_pixels: int = MIN_LESION_PIXELS
) -> list[Sample]:
    """Views of the first ``cases`` manifest cases with a lesion of at least ``min_pixels``.

    Raise ``ValueError`` if the data set has no lesion masks (generate it with --lesion-masks).
    """
    data = Path(data)
    manifest = data / "manifest.csv" if data.is_dir() else data
    root = manifest.parent
    records = read_manifest(manifest)[: cases or None]
    samples: list[Sample] = []
    masks_seen = False
    for record in records:
        truth_path = root / "truth" / f"{record.code}.json"
        if not truth_path.is_file():
            continue
        truth = json.loads(truth_path.read_text())
        for view, entry in truth.get("views", {}).items():
            if "lesion_mask" not in entry:
                continue
            masks_seen = True
            present = tuple(
                _image_label_index(name)
                for name, count in sorted(entry.get("lesion_pixels", {}).items())
                if count >= min_pixels
            )
            if not present or View(view) not in record.views:
                continue
            labels = cv2.imread(str(root / entry["lesion_mask"]), cv2.IMREAD_UNCHANGED)
            if labels is None:
                raise ValueError(f"cannot read lesion mask {root / entry['lesion_mask']}")
            samples.append(
                Sample(
                    record.code,
                    view,
                    load_rgb(record.views[View(view)]),
                    labels,
                    tuple(sorted(present)),
                )
            )
    if not masks_seen:
        raise ValueError(
            f"{root}: no lesion masks in the truth files; "
            "generate the phantom data with --lesion-masks"
        )
    return samples


def score_view(
    heatmap: np.ndarray, frame: np.ndarray, lesion: np.ndarray
) -> tuple[bool, float, float, int]:
    """(hit, mass share, chance, lesion pixels) of a model-resolution heatmap on a frame.

    The map is resized to the frame's cropped sector (as the overlay shows it); ``lesion`` is
    a frame-sized boolean mask."""
    roi = find_sector(frame)
    box = (slice(roi.y0, roi.y1), slice(roi.x0, roi.x1))
    sector, lesion_crop = roi.mask[box], lesion[box] & roi.mask[box]
    resized = cv2.resize(
        heatmap.astype(np.float32), (roi.width, roi.height), interpolation=cv2.INTER_LINEAR
    )
    return (
        pointing_hit(resized, lesion_crop),
        mass_share(resized, lesion_crop),
        lesion_share(lesion_crop, sector),
        int(lesion_crop.sum()),
    )


def score_samples(
    ensemble: DiagnosisEnsemble,
    samples: Sequence[Sample],
    *,
    settings: CamSettings = DEFAULT_SETTINGS,
    known_target: bool = True,
    batch: int = 64,
) -> list[ViewScore]:
    """Score each sample's lesions. ``known_target``: the heatmap is made for the lesion's own
    label (is the map of class X on X?); otherwise for the label ``settings.target`` picks, as
    the pipeline does without knowing the truth."""
    pairs = [(s, lesion) for s in samples for lesion in s.lesions]
    scores: list[ViewScore] = []
    for start in range(0, len(pairs), batch):
        chunk = pairs[start : start + batch]
        frames = [s.frame for s, _ in chunk]
        wanted = [lesion for _, lesion in chunk] if known_target else None
        maps, targets = frame_heatmaps(ensemble, frames, settings=settings, targets=wanted)
        for (sample, lesion), heatmap, target in zip(chunk, maps, targets, strict=True):
            hit, share, chance, pixels = score_view(heatmap, sample.frame, sample.labels == lesion)
            scores.append(
                ViewScore(
                    sample.code,
                    sample.view,
                    str(IMAGE_LABELS[lesion]),
                    str(IMAGE_LABELS[target]),
                    hit,
                    share,
                    chance,
                    pixels,
                )
            )
    return scores


def summarise(scores: Iterable[ViewScore], *, confidence: float = CONFIDENCE) -> dict[str, Any]:
    """Pointing-game hit rate (Clopper–Pearson CI), mean mass share and chance; overall and
    per lesion label. ``beats_chance``: the CI's lower end lies above the mean chance."""
    rows = list(scores)

    def block(group: list[ViewScore]) -> dict[str, Any]:
        n = len(group)
        hits = sum(s.hit for s in group)
        if not n:
            return {"n": 0}
        low, high = proportion_confint(hits, n, alpha=1 - confidence, method="beta")
        chance = float(np.mean([s.chance for s in group]))
        return {
            "n": n,
            "hits": hits,
            "hit_rate": hits / n,
            "hit_rate_ci": [float(low), float(high)],
            "mass_share": float(np.mean([s.mass_share for s in group])),
            "chance": chance,
            "beats_chance": bool(low > chance),
        }

    labels = sorted({s.label for s in rows}, key=lambda name: _image_label_index(name))
    return {
        "confidence": confidence,
        "overall": block(rows),
        "per_label": {label: block([s for s in rows if s.label == label]) for label in labels},
    }


def evaluate_heatmaps(
    models: Path,
    data: Path,
    *,
    cases: int | None = None,
    settings: CamSettings = DEFAULT_SETTINGS,
    known_target: bool = True,
    device: str = "cpu",
    min_pixels: int = MIN_LESION_PIXELS,
) -> dict[str, Any]:
    """Localisation report of a diagnosis model directory on a phantom data set."""
    ensemble = DiagnosisEnsemble.load(models, device=device)
    samples = phantom_samples(data, cases=cases, min_pixels=min_pixels)
    scores = score_samples(ensemble, samples, settings=settings, known_target=known_target)
    return {
        "settings": settings.to_json(),
        "target": "the lesion's own label"
        if known_target
        else f"picked by the model ({settings.target})",
        "min_lesion_pixels": min_pixels,
        "views": len(samples),
        **summarise(scores),
        "scores": [asdict(s) for s in scores],
    }


__all__ = [
    "MIN_LESION_PIXELS",
    "Sample",
    "ViewScore",
    "evaluate_heatmaps",
    "lesion_share",
    "mass_share",
    "phantom_samples",
    "pointing_hit",
    "score_samples",
    "score_view",
    "summarise",
]
