"""Exact binomial confidence intervals and the diagnostic metrics of binary calls."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from analysis.stats._checks import as_binary, check_level
from analysis.stats.results import BinaryMetrics, ConfidenceInterval, Estimate

__all__ = ["binary_metrics", "clopper_pearson"]

_F1_RESAMPLES = 2000


def clopper_pearson(k: int, n: int, level: float = 0.95) -> ConfidenceInterval:
    """Exact (Clopper–Pearson) confidence interval for a binomial proportion.

    Parameters
    ----------
    k : int
        Number of successes, ``0 <= k <= n``.
    n : int
        Number of trials, ``n >= 1``.
    level : float
        Two-sided confidence level.

    Returns
    -------
    ConfidenceInterval
        Limits from the beta quantiles; 0 and 1 at the boundaries.

    References
    ----------
    Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the
    case of the binomial. Biometrika 1934;26:404–413.
    """
    level = check_level(level)
    if isinstance(k, bool) or isinstance(n, bool):
        raise ValueError("k and n must be integers, not booleans")
    if int(k) != k or int(n) != n:
        raise ValueError(f"k and n must be integers, got k={k!r}, n={n!r}")
    k, n = int(k), int(n)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if k < 0:
        raise ValueError(f"k must not be negative, got {k}")
    if k > n:
        raise ValueError(f"k={k} exceeds n={n}")
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return ConfidenceInterval(float(ci.low), float(ci.high), level, "Clopper-Pearson")


def _proportion(k: int, n: int, level: float) -> Estimate:
    if n == 0:
        nan_ci = ConfidenceInterval(float("nan"), float("nan"), level, "Clopper-Pearson")
        return Estimate(float("nan"), nan_ci, k, n)
    return Estimate(k / n, clopper_pearson(k, n, level), k, n)


def binary_metrics(y_true: Any, y_pred: Any, level: float = 0.95, seed: int = 0) -> BinaryMetrics:
    """Sensitivity, specificity, PPV, NPV, accuracy (Clopper–Pearson) and F1 (bootstrap).

    Parameters
    ----------
    y_true, y_pred : array_like of 0/1
        Reference standard and binary call per case; 1 is the positive class (severe).
    level : float
        Confidence level of every interval.
    seed : int
        Seed of the case bootstrap behind the F1 interval (percentile, 2000 resamples).

    Returns
    -------
    BinaryMetrics
        Each field an :class:`Estimate`; proportions carry numerator and denominator.
        A proportion with an empty denominator is NaN.

    References
    ----------
    Clopper & Pearson, Biometrika 1934; Efron & Tibshirani, An Introduction to the
    Bootstrap, 1993 (percentile interval).
    """
    level = check_level(level)
    truth = as_binary(y_true, "y_true")
    pred = as_binary(y_pred, "y_pred")
    if truth.shape != pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {truth.size} != {pred.size}")
    tp = int(np.sum(truth & pred))
    tn = int(np.sum(~truth & ~pred))
    fp = int(np.sum(~truth & pred))
    fn = int(np.sum(truth & ~pred))
    n = truth.size

    denominator = 2 * tp + fp + fn
    f1_value = 2 * tp / denominator if denominator else float("nan")
    rng = np.random.default_rng(seed)
    # Resample cases as category counts: one multinomial draw per resample.
    counts = rng.multinomial(n, np.array([tp, fp, fn, tn], dtype=float) / n, size=_F1_RESAMPLES)
    boot_den = 2 * counts[:, 0] + counts[:, 1] + counts[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        boot_f1 = np.where(boot_den > 0, 2 * counts[:, 0] / np.maximum(boot_den, 1), np.nan)
    boot_f1 = boot_f1[np.isfinite(boot_f1)]
    alpha = 1.0 - level
    if boot_f1.size:
        low, high = np.quantile(boot_f1, [alpha / 2, 1 - alpha / 2])
    else:
        low = high = float("nan")
    f1 = Estimate(
        f1_value,
        ConfidenceInterval(float(low), float(high), level, "percentile bootstrap over cases"),
        2 * tp,
        denominator,
    )
    return BinaryMetrics(
        sensitivity=_proportion(tp, tp + fn, level),
        specificity=_proportion(tn, tn + fp, level),
        ppv=_proportion(tp, tp + fp, level),
        npv=_proportion(tn, tn + fn, level),
        f1=f1,
        accuracy=_proportion(tp + tn, n, level),
    )
