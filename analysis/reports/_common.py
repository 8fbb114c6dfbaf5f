"""Helpers shared by the report modules (pure)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

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
        "reads": len(reads),
        "blinded_reviews": len(data.blinded),
        "qualitative_scores": len(data.qualitative),
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


def resample_counts(rng: np.random.Generator, n: int, n_resamples: int) -> np.ndarray:
    """Bootstrap weights: how often each of ``n`` units is drawn, one row per resample.

    Equivalent to a multinomial(n, 1/n) draw per row, but from integer indices and one
    ``bincount`` (much faster than numpy's multinomial for hundreds of categories).
    """
    draws = rng.integers(0, n, size=(n_resamples, n))
    draws += np.arange(n_resamples)[:, None] * n
    return np.bincount(draws.ravel(), minlength=n_resamples * n).reshape(n_resamples, n).astype(float)


def _binary_ratios(tp: np.ndarray, fn: np.ndarray, fp: np.ndarray, tn: np.ndarray) -> dict[str, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "sensitivity": tp / (tp + fn),
            "specificity": tn / (tn + fp),
            "ppv": tp / (tp + fp),
            "npv": tn / (tn + fn),
            "f1": 2 * tp / (2 * tp + fp + fn),
        }


def two_way_binary_ci(
    decisions: np.ndarray,
    truth: np.ndarray,
    n_resamples: int,
    seed: int,
    level: float = LEVEL,
) -> dict[str, tuple[float, float, float]]:
    """Reader-averaged Se, Sp, PPV, NPV and F1 with two-way (reader × case) percentile CIs.

    The scheme of ``analysis.stats.reader_case_bootstrap`` (readers resampled, cases
    resampled within their truth class, the metric recomputed from weights without a
    Python loop per resample), applied to all five metrics of the yes/no calls with one
    set of weights (the library function covers Se and Sp but draws its weights anew
    for each call, and has no PPV, NPV or F1). Returns metric -> (estimate, low, high);
    a reader whose ratio is undefined in a resample is left out of that resample's mean.
    """
    calls = decisions.astype(float)
    labels = truth.astype(bool)
    readers = calls.shape[0]
    pos, neg = calls[:, labels], calls[:, ~labels]
    rng = np.random.default_rng(seed)
    reader_w = resample_counts(rng, readers, n_resamples)
    pos_w = resample_counts(rng, pos.shape[1], n_resamples)
    neg_w = resample_counts(rng, neg.shape[1], n_resamples)
    observed = _binary_ratios(pos.sum(1), (1 - pos).sum(1), neg.sum(1), (1 - neg).sum(1))
    tp = pos_w @ pos.T
    fp = neg_w @ neg.T
    boot = _binary_ratios(tp, pos.shape[1] - tp, fp, neg.shape[1] - fp)
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


def clopper_pearson_many(k: np.ndarray, n: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Clopper–Pearson limits for many proportions at once (beta quantiles; 0/1 at the ends).

    The same interval as ``analysis.stats.clopper_pearson`` (the tests check it), in one
    vectorised call: that function's root finding costs ~10 ms per interval.
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    alpha = 1 - level
    with np.errstate(invalid="ignore"):
        low = np.where(k > 0, stats.beta.ppf(alpha / 2, k, n - k + 1), 0.0)
        high = np.where(k < n, stats.beta.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
    low = np.where(n > 0, low, np.nan)
    high = np.where(n > 0, high, np.nan)
    return low, high


def per_reader_binary(
    decisions: np.ndarray, truth: np.ndarray, n_resamples: int, seed: int, level: float = LEVEL
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each reader's Se, Sp, PPV, NPV (Clopper–Pearson) and F1 (percentile case bootstrap).

    Returns metric -> (estimates, lows, highs), arrays over readers.
    """
    calls = decisions.astype(float)
    labels = truth.astype(bool)
    tp = calls[:, labels].sum(1)
    fn = labels.sum() - tp
    fp = calls[:, ~labels].sum(1)
    tn = (~labels).sum() - fp
    out: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for name, k, total in (
        ("sensitivity", tp, tp + fn), ("specificity", tn, tn + fp),
        ("ppv", tp, tp + fp), ("npv", tn, tn + fn),
    ):
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(total > 0, k / np.maximum(total, 1), np.nan)
        low, high = clopper_pearson_many(k, total, level)
        out[name] = (value, low, high)
    rng = np.random.default_rng(seed)
    weights = resample_counts(rng, labels.size, n_resamples)
    hit = calls * labels  # true positives per case
    b_tp = weights @ hit.T
    b_fp = weights @ (calls * ~labels).T
    b_fn = weights @ ((1 - calls) * labels).T
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * tp / (2 * tp + fp + fn)
        boot = 2 * b_tp / (2 * b_tp + b_fp + b_fn)
    alpha = 1 - level
    low = np.array([np.nanquantile(boot[:, r], alpha / 2) if np.isfinite(boot[:, r]).any() else np.nan
                    for r in range(calls.shape[0])])
    high = np.array([np.nanquantile(boot[:, r], 1 - alpha / 2) if np.isfinite(boot[:, r]).any() else np.nan
                     for r in range(calls.shape[0])])
    out["f1"] = (f1, low, high)
    return out
