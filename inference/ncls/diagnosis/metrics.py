"""Case-level metrics of the diagnosis model: the severe probability's AUC; Se, Sp at the rule."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from .predict import CaseDiagnosis
from .rules import CASE_THRESHOLD


def case_metrics(
    truth: Sequence[int] | np.ndarray, diagnoses: Sequence[CaseDiagnosis]
) -> dict[str, Any]:
    """AUC (ties count ½), sensitivity and specificity of the rule's decisions, and counts."""
    y = np.asarray(truth, dtype=int)
    if len(y) != len(diagnoses):
        raise ValueError(f"{len(y)} labels for {len(diagnoses)} diagnoses")
    probability = np.array([d.severe_probability for d in diagnoses])
    decided = np.array([d.severe for d in diagnoses], dtype=bool)
    positives, negatives = int(y.sum()), int((1 - y).sum())
    auc = float(roc_auc_score(y, probability)) if positives and negatives else None
    tp = int(np.sum(decided & (y == 1)))
    tn = int(np.sum(~decided & (y == 0)))
    return {
        "n": len(y),
        "n_severe": positives,
        "auc": auc,
        "sensitivity": tp / positives if positives else None,
        "specificity": tn / negatives if negatives else None,
        "true_positives": tp,
        "true_negatives": tn,
        "false_positives": negatives - tn,
        "false_negatives": positives - tp,
        "threshold": CASE_THRESHOLD,
        "decision": "ensemble rule (case head >= threshold, image-head override)",
    }
