"""Helpers shared by the report modules (pure)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.frames import StudyData
from analysis.stats import ConfidenceInterval

LEVEL = 0.95


def gettext_noop(message: str) -> str:
    """Mark a report string for translation (Django's ``makemessages`` finds this name).

    The report modules import no Django; pages translate the marked strings when they
    render them (``gettext(title)``).
    """
    return message


GROUP_LABELS = {
    "junior": "Junior",
    "mid_level": "Mid-level",
    "junior_ai": "Junior with AI",
    "ai": "AI",
}
COLORS = {"junior": "#1f77b4", "mid_level": "#2ca02c", "junior_ai": "#ff7f0e", "ai": "#d62728"}


def read_datasets(data: StudyData) -> list[str]:
    """Datasets with reads, in the order the cases list them."""
    present = set(data.reads["dataset"].dropna().astype(str))
    ordered = [d for d in pd.unique(data.cases["dataset"].astype(str)) if d in present]
    return ordered + sorted(present - set(ordered))


def counts(data: StudyData) -> dict[str, int]:
    """The n of a study: cases, readers, reads (and blinded/qualitative rows)."""
    reads = data.reads
    return {
        "cases": int(reads["case"].nunique()) if not reads.empty else 0,
        "readers": int(reads.loc[reads["tier"] != "ai", "reader"].nunique()) if not reads.empty else 0,
        "reads": int(len(reads)),
        "blinded_reviews": int(len(data.blinded)),
        "qualitative_scores": int(len(data.qualitative)),
    }


def ci_cols(prefix: str, value: float, ci: ConfidenceInterval | None) -> dict[str, Any]:
    """``prefix``, ``prefix_low``, ``prefix_high`` columns of a row."""
    return {
        prefix: float(value),
        f"{prefix}_low": float(ci.low) if ci is not None else np.nan,
        f"{prefix}_high": float(ci.high) if ci is not None else np.nan,
    }


def both_classes(truth: np.ndarray) -> bool:
    """Whether ``truth`` holds at least one positive and one negative case."""
    return bool(truth.size) and 0 < int(np.sum(truth)) < truth.size


def two_way_ratio_ci(
    decisions: np.ndarray,
    truth: np.ndarray,
    n_resamples: int,
    seed: int,
    level: float = LEVEL,
) -> dict[str, tuple[float, float, float]]:
    """Reader-averaged PPV, NPV and F1 with two-way (reader × case) percentile CIs.

    ``analysis.stats.reader_case_bootstrap`` covers AUC, sensitivity and specificity;
    the same scheme (readers resampled, cases resampled within truth class, weights
    drawn as multinomial counts, no Python loop per resample) is applied here to the
    ratios it does not cover. Returns metric -> (estimate, low, high).
    """
    calls = decisions.astype(float)
    labels = truth.astype(bool)
    readers = calls.shape[0]
    pos, neg = calls[:, labels], calls[:, ~labels]
    rng = np.random.default_rng(seed)
    reader_w = rng.multinomial(readers, np.full(readers, 1.0 / readers), size=n_resamples)
    pos_w = rng.multinomial(pos.shape[1], np.full(pos.shape[1], 1.0 / pos.shape[1]), size=n_resamples)
    neg_w = rng.multinomial(neg.shape[1], np.full(neg.shape[1], 1.0 / neg.shape[1]), size=n_resamples)

    def ratios(tp: np.ndarray, fn: np.ndarray, fp: np.ndarray, tn: np.ndarray) -> dict[str, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            return {
                "ppv": tp / (tp + fp),
                "npv": tn / (tn + fn),
                "f1": 2 * tp / (2 * tp + fp + fn),
            }

    observed = ratios(pos.sum(1), (1 - pos).sum(1), neg.sum(1), (1 - neg).sum(1))
    tp = pos_w @ pos.T
    fn = pos_w @ (1 - pos).T
    fp = neg_w @ neg.T
    tn = neg_w @ (1 - neg).T
    boot = ratios(tp, fn, fp, tn)
    alpha = 1 - level
    out = {}
    for name, per_reader in boot.items():
        finite = np.isfinite(per_reader)
        weights = reader_w * finite
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (np.where(finite, per_reader, 0.0) * weights).sum(1) / weights.sum(1)
        mean = mean[np.isfinite(mean)]
        low, high = np.quantile(mean, [alpha / 2, 1 - alpha / 2]) if mean.size else (np.nan, np.nan)
        out[name] = (float(np.nanmean(observed[name])), float(low), float(high))
    return out
