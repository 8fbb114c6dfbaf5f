"""Rotated mAP@0.5 per class (VOC all-point interpolated AP, one-to-one greedy matching)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch

from core.labels import ANATOMY_CLASSES
from inference.ncls.detection.boxes import rotated_iou

if TYPE_CHECKING:
    from inference.ncls.detection.predict import FrameDetector


@dataclass(frozen=True)
class MapResult:
    """AP per class (None where the class has no ground truth), their mean, and counts."""

    ap: dict[str, float | None]
    map: float
    ground_truth: dict[str, int]
    iou_threshold: float

    def to_json(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "iou_threshold": self.iou_threshold,
            "map": round(self.map, 4),
            "ap": {k: None if v is None else round(v, 4) for k, v in self.ap.items()},
            "ground_truth": self.ground_truth,
        }


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the precision envelope (all-point interpolation)."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.where(r[1:] != r[:-1])[0]
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def rotated_map(
    predictions: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    truths: list[tuple[np.ndarray, np.ndarray]],
    *,
    iou_threshold: float = 0.5,
    classes: tuple[str, ...] = ANATOMY_CLASSES,
) -> MapResult:
    """mAP over images. ``predictions``: per image (boxes, classes, scores);
    ``truths``: per image (boxes, classes); boxes ``(N, 5)`` in one convention and unit."""
    if len(predictions) != len(truths):
        raise ValueError(f"{len(predictions)} predictions for {len(truths)} images")
    aps: dict[str, float | None] = {}
    counts: dict[str, int] = {}
    for c, name in enumerate(classes):
        records: list[tuple[float, bool]] = []
        n_gt = 0
        for (pb, pc, ps), (tb, tc) in zip(predictions, truths, strict=True):
            gt = np.asarray(tb)[np.asarray(tc) == c].reshape(-1, 5)
            sel = np.asarray(pc) == c
            det = np.asarray(pb)[sel].reshape(-1, 5)
            sc = np.asarray(ps)[sel]
            n_gt += len(gt)
            if len(det) == 0:
                continue
            order = np.argsort(-sc)
            det, sc = det[order], sc[order]
            if len(gt) == 0:
                records.extend((float(s), False) for s in sc)
                continue
            ious = rotated_iou(
                torch.as_tensor(det, dtype=torch.float64), torch.as_tensor(gt, dtype=torch.float64)
            ).numpy()
            taken = np.zeros(len(gt), dtype=bool)
            for i, s in enumerate(sc):
                cand = np.where(~taken, ious[i], -1.0)
                j = int(np.argmax(cand))
                hit = cand[j] >= iou_threshold
                if hit:
                    taken[j] = True
                records.append((float(s), bool(hit)))
        counts[name] = n_gt
        if n_gt == 0:
            aps[name] = None
            continue
        records.sort(key=lambda r: -r[0])
        tp = np.cumsum([r[1] for r in records]) if records else np.zeros(0)
        fp = np.cumsum([not r[1] for r in records]) if records else np.zeros(0)
        recall = tp / n_gt
        precision = tp / np.maximum(tp + fp, 1e-9)
        aps[name] = average_precision(recall, precision) if records else 0.0
    present = [v for v in aps.values() if v is not None]
    return MapResult(
        ap=aps,
        map=float(np.mean(present)) if present else 0.0,
        ground_truth=counts,
        iou_threshold=iou_threshold,
    )


def detection_f1(
    predictions: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    truths: list[tuple[np.ndarray, np.ndarray]],
    threshold: float,
    iou_threshold: float = 0.5,
) -> float:
    """F1 over all classes of the detections scoring at least ``threshold``."""
    tp = fp = n_gt = 0
    for (pb, pc, ps), (tb, tc) in zip(predictions, truths, strict=True):
        keep = np.asarray(ps) >= threshold
        pb, pc, ps = np.asarray(pb)[keep], np.asarray(pc)[keep], np.asarray(ps)[keep]
        tb, tc = np.asarray(tb).reshape(-1, 5), np.asarray(tc)
        n_gt += len(tb)
        if len(pb) == 0:
            continue
        if len(tb) == 0:
            fp += len(pb)
            continue
        ious = rotated_iou(
            torch.as_tensor(pb.reshape(-1, 5), dtype=torch.float64),
            torch.as_tensor(tb, dtype=torch.float64),
        ).numpy()
        ious[pc[:, None] != tc[None, :]] = 0.0
        taken = np.zeros(len(tb), dtype=bool)
        for i in np.argsort(-ps):
            cand = np.where(~taken, ious[i], -1.0)
            j = int(np.argmax(cand))
            if cand[j] >= iou_threshold:
                taken[j] = True
                tp += 1
            else:
                fp += 1
    return 2 * tp / max(1, 2 * tp + fp + (n_gt - tp))


def calibrate_threshold(
    predictions: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    truths: list[tuple[np.ndarray, np.ndarray]],
    candidates: tuple[float, ...] = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6),
) -> tuple[float, dict[float, float]]:
    """The score threshold (≤ DESIGN.md's 0.6) with the best detection F1, and F1 per candidate.

    A detector trained briefly with the Varifocal loss scores its boxes by their expected
    IoU, lower than a fully trained one; its operating point is calibrated on data that is
    neither its training nor its test data.
    """
    f1 = {t: round(detection_f1(predictions, truths, t), 4) for t in candidates}
    best = max(f1, key=lambda t: (f1[t], t))
    return best, f1


def calibrate_class_thresholds(
    predictions: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    truths: list[tuple[np.ndarray, np.ndarray]],
    candidates: tuple[float, ...] = (
        0.05,
        0.1,
        0.15,
        0.2,
        0.25,
        0.3,
        0.35,
        0.4,
        0.45,
        0.5,
        0.55,
        0.6,
    ),
    classes: tuple[str, ...] = ANATOMY_CLASSES,
    fallback: float = 0.6,
) -> tuple[dict[str, float], dict[str, dict[float, float]]]:
    """Per class, the threshold (≤ 0.6) with the best F1 of "the structure is in this frame".

    That is what a threshold decides for the view rules (a structure counts as seen or
    not), so it is calibrated on it rather than on box overlap: a Varifocal-trained detector
    scores a box by its expected IoU, so a thin structure (the third ventricle, a few
    pixels wide) is found at low scores that one threshold for all classes would drop.
    Ties go to the higher threshold; a class without ground truth keeps ``fallback``.
    """
    chosen: dict[str, float] = {}
    table: dict[str, dict[float, float]] = {}
    for c, name in enumerate(classes):
        present = np.array([bool(np.any(np.asarray(tc) == c)) for _, tc in truths])
        if not present.any():
            chosen[name] = fallback
            continue
        best_score = np.array(
            [
                float(np.max(np.asarray(ps)[np.asarray(pc) == c], initial=-1.0))
                for _, pc, ps in predictions
            ]
        )
        f1 = {}
        for t in candidates:
            seen = best_score >= t
            tp = int(np.sum(seen & present))
            f1[t] = round(
                2
                * tp
                / max(1, 2 * tp + int(np.sum(seen & ~present)) + int(np.sum(~seen & present))),
                4,
            )
        table[name] = f1
        chosen[name] = max(f1, key=lambda t: (f1[t], t))
    return chosen, table


def frame_detector_map(detector: FrameDetector, pairs: Sequence[tuple[Path, Path]]) -> MapResult:
    """Rotated mAP@0.5 of any stage-1 detector on DOTA data, in the images' own pixels.

    Why: a detector with its own input processing (the published one sees whole frames) cannot
    be scored on the letterboxed samples of ``detection.train.evaluate_samples``;
    here each image goes through :meth:`FrameDetector.detect` as a video frame would. Only
    detections the detector keeps (above its threshold) are ranked, so give it a low one.
    """
    from inference.ncls.detection.data import parse_dota_label

    predictions, truths = [], []
    for image_path, label_path in pairs:
        image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{image_path}: unreadable image")
        found = detector.detect([cv2.cvtColor(image, cv2.COLOR_BGR2RGB)], 0, None)[0]
        predictions.append((found.boxes, found.classes, found.scores))
        truths.append(parse_dota_label(label_path.read_text()))
    return rotated_map(predictions, truths)
