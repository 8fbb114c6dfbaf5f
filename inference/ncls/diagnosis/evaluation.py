"""Case-level metrics of the diagnosis model: AUC of the severe probability, Se and Sp at the rule."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from .data import load_cases, read_manifest
from .predict import CaseDiagnosis, DiagnosisEnsemble
from .rules import CASE_THRESHOLD


def case_metrics(truth: Sequence[int] | np.ndarray, diagnoses: Sequence[CaseDiagnosis]) -> dict[str, Any]:
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


def evaluate_manifest(models: Path, manifest: Path, *, device: str = "cpu") -> dict[str, Any]:
    """Diagnose every case of a manifest with the ensemble in ``models`` and score it.

    Cases are split by ``dataset_kind``: blind-sweep cases are reported apart from the rest.
    """
    ensemble = DiagnosisEnsemble.load(models, device)
    records = read_manifest(manifest)
    report: dict[str, Any] = {"models": list(ensemble.model_versions), "manifest": str(manifest)}
    groups = {
        "standard": [r for r in records if r.dataset_kind != "blind_sweep"],
        "blind_sweep": [r for r in records if r.dataset_kind == "blind_sweep"],
    }
    for name, group in groups.items():
        if not group:
            continue
        tensors = load_cases(group, ensemble.image_size)
        diagnoses = ensemble.diagnose_tensors(tensors.images, tensors.masks)
        report[name] = case_metrics(tensors.severe.numpy(), diagnoses)
        report[name]["rules"] = {
            rule: sum(d.rule == rule for d in diagnoses) for rule in sorted({str(d.rule) for d in diagnoses})
        }
    return report
