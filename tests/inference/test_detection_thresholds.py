"""Per-class score thresholds: calibration on hand-made detections, use by the detector."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inference.ncls.detection.evaluate import calibrate_class_thresholds, detection_f1
from inference.ncls.detection.model import RotatedRTDETR, profile_config
from inference.ncls.detection.predict import Detector, checkpoint_threshold, class_thresholds
from inference.ncls.labels import ANATOMY_CLASSES

C = {name: i for i, name in enumerate(ANATOMY_CLASSES)}
BOX = np.array([[50.0, 50.0, 40.0, 10.0, 30.0]])
FAR = np.array([[200.0, 200.0, 40.0, 10.0, 30.0]])


def _image(cls: str, true_score: float, false_score: float | None):
    """One image with one truth box of ``cls``: a hit at ``true_score``, a miss at ``false_score``."""
    boxes, labels, scores = [BOX], [C[cls]], [true_score]
    if false_score is not None:
        boxes.append(FAR)
        labels.append(C[cls])
        scores.append(false_score)
    return (np.concatenate(boxes), np.array(labels), np.array(scores)), (BOX, np.array([C[cls]]))


def test_each_class_gets_its_own_f1_optimal_threshold() -> None:
    # the third ventricle is found at 0.25-0.35 with false alarms at 0.12; the callosum is
    # found at 0.9 with false alarms at 0.5
    data = [_image("cor_third_ventricle", s, 0.12) for s in (0.25, 0.3, 0.35)]
    data += [_image("cor_corpus_callosum", 0.9, 0.5) for _ in range(3)]
    preds, truths = zip(*data, strict=True)
    chosen, table = calibrate_class_thresholds(list(preds), list(truths))
    assert chosen["cor_third_ventricle"] == 0.25  # highest threshold keeping all three hits
    assert chosen["cor_corpus_callosum"] == 0.6  # above every false alarm (ties go to the higher)
    assert chosen["sag_trigone"] == 0.6  # no ground truth: the fallback
    assert "sag_trigone" not in table
    # the table is the F1 of that class alone, checked against the all-class function
    sub = [(p, t) for p, t in data if t[1][0] == C["cor_third_ventricle"]]
    assert table["cor_third_ventricle"][0.1] == round(detection_f1([p for p, _ in sub], [t for _, t in sub], 0.1), 4)
    # one global threshold cannot serve both classes as well
    assert detection_f1(list(preds), list(truths), 0.6) < 1.0 and detection_f1(list(preds), list(truths), 0.25) < 1.0


def test_checkpoint_threshold_precedence() -> None:
    per_class = {"cor_third_ventricle": 0.3}
    assert checkpoint_threshold({}) == 0.6
    assert checkpoint_threshold({"score_threshold": 0.45}) == 0.45
    assert checkpoint_threshold({"score_threshold": 0.45, "score_thresholds": per_class}) == per_class
    assert checkpoint_threshold({"score_thresholds": per_class}, override=0.5) == 0.5
    arr = class_thresholds(per_class)
    assert arr[C["cor_third_ventricle"]] == 0.3 and arr[C["cor_thalamus"]] == 0.6
    with pytest.raises(ValueError, match="unknown classes"):
        class_thresholds({"brainstem": 0.2})


def test_detector_applies_thresholds_per_class() -> None:
    torch.manual_seed(0)
    cfg = profile_config("lite", input_size=64, num_queries=12, num_denoising=0)
    model = RotatedRTDETR(cfg)
    frame = (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)
    everything = Detector(model, threshold=0.0).detect([frame], 0, None)[0]
    assert len(everything.scores) == 12
    # thresholds between the scores of two classes keep exactly the detections above their own
    cut = {name: float(np.median(everything.scores)) for name in ANATOMY_CLASSES}
    low = ANATOMY_CLASSES[int(everything.classes[np.argmin(everything.scores)])]
    cut[low] = 0.0
    kept = Detector(model, threshold=cut).detect([frame], 0, None)[0]
    want = [(c, s) for c, s in zip(everything.classes, everything.scores, strict=True)
            if s >= cut[ANATOMY_CLASSES[int(c)]]]
    assert sorted(zip(kept.classes.tolist(), kept.scores.tolist(), strict=True)) == sorted(
        (int(c), float(s)) for c, s in want)
    assert 0 < len(kept.scores) < 12
