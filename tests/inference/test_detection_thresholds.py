"""Per-class score thresholds: calibration on hand-made detections, use by the detector."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.labels import ANATOMY_CLASSES
from inference.ncls.detection.evaluate import calibrate_class_thresholds, detection_f1
from inference.ncls.detection.model import RotatedRTDETR, profile_config
from inference.ncls.detection.predict import Detector, checkpoint_threshold, class_thresholds

C = {name: i for i, name in enumerate(ANATOMY_CLASSES)}
BOX = np.array([[50.0, 50.0, 40.0, 10.0, 30.0]])


def _frame(cls: str, present: bool, score: float | None):
    """One frame: a truth box of ``cls`` if ``present``; a detection of it at ``score``."""
    preds = (
        (BOX, np.array([C[cls]]), np.array([score]))
        if score is not None
        else (np.zeros((0, 5)), np.zeros(0, np.int64), np.zeros(0))
    )
    truth = (BOX, np.array([C[cls]])) if present else (np.zeros((0, 5)), np.zeros(0, np.int64))
    return preds, truth


def test_each_class_gets_the_threshold_that_best_tells_whether_it_is_in_the_frame() -> None:
    # the third ventricle is in three frames, detected at 0.12-0.2; a look-alike is
    # detected at 0.08 in two frames without it
    data = [_frame("cor_third_ventricle", True, s) for s in (0.12, 0.15, 0.2)]
    data += [_frame("cor_third_ventricle", False, 0.08) for _ in range(2)]
    # the callosum: found at 0.9, false alarms at 0.5, one frame missed entirely
    data += [_frame("cor_corpus_callosum", True, 0.9) for _ in range(3)]
    data += [_frame("cor_corpus_callosum", False, 0.5), _frame("cor_corpus_callosum", True, None)]
    preds, truths = (list(x) for x in zip(*data, strict=True))
    chosen, table = calibrate_class_thresholds(preds, truths)
    assert chosen["cor_third_ventricle"] == 0.1  # every present frame, no absent one
    assert table["cor_third_ventricle"][0.1] == 1.0
    assert table["cor_third_ventricle"][0.05] == round(2 * 3 / (2 * 3 + 2), 4)  # two false alarms
    assert table["cor_third_ventricle"][0.15] == round(2 * 2 / (2 * 2 + 1), 4)  # one miss
    assert chosen["cor_corpus_callosum"] == 0.6  # above the false alarm; ties go higher
    assert table["cor_corpus_callosum"][0.6] == round(2 * 3 / (2 * 3 + 1), 4)  # the missed frame
    assert chosen["sag_trigone"] == 0.6 and "sag_trigone" not in table  # no truth: the fallback
    # the box-level F1 at DESIGN.md's 0.6 drops the third ventricle altogether
    sub = [(p, t) for p, t in data if len(t[1]) and t[1][0] == C["cor_third_ventricle"]]
    assert detection_f1([p for p, _ in sub], [t for _, t in sub], 0.6) == 0.0


def test_checkpoint_threshold_precedence() -> None:
    per_class = {"cor_third_ventricle": 0.3}
    assert checkpoint_threshold({}) == 0.6
    assert checkpoint_threshold({"score_threshold": 0.45}) == 0.45
    assert (
        checkpoint_threshold({"score_threshold": 0.45, "score_thresholds": per_class}) == per_class
    )
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
    want = [
        (c, s)
        for c, s in zip(everything.classes, everything.scores, strict=True)
        if s >= cut[ANATOMY_CLASSES[int(c)]]
    ]
    assert sorted(zip(kept.classes.tolist(), kept.scores.tolist(), strict=True)) == sorted(
        (int(c), float(s)) for c, s in want
    )
    assert 0 < len(kept.scores) < 12
