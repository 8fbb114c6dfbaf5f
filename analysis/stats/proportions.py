"""Exact binomial confidence intervals and the diagnostic metrics of binary calls.

The intervals come from statsmodels (``proportion_confint(method="beta")``, vectorised;
``confint_proportions_2indep``), the F1 interval from ``scipy.stats.bootstrap``; this
module only counts, validates and names the methods.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from analysis.stats._checks import as_binary, check_level
from analysis.stats.results import BinaryMetrics, ConfidenceInterval, Estimate

__all__ = [
    "BINARY_METRICS",
    "binary_metrics",
    "binary_metrics_by_reader",
    "binary_ratios",
    "clopper_pearson",
    "clopper_pearson_limits",
    "confusion_counts",
    "proportion_difference",
]

#: The metrics of binary calls, in the order of :class:`BinaryMetrics` (accuracy aside).
BINARY_METRICS = ("sensitivity", "specificity", "ppv", "npv", "f1")
CLOPPER_PEARSON = "Clopper-Pearson"


def clopper_pearson_limits(
    k: Any, n: Any, level: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Clopper–Pearson limits of many proportions at once; NaN where ``n`` is 0.

    Parameters
    ----------
    k, n : array_like of int
        Successes and trials, broadcast together; ``0 <= k <= n``.
    level : float
        Two-sided confidence level.

    Returns
    -------
    low, high : ndarray
        Beta quantiles (statsmodels' ``proportion_confint(method="beta")``), 0 and 1 at
        the boundaries.

    References
    ----------
    Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the
    case of the binomial. Biometrika 1934;26:404–413.
    """
    level = check_level(level)
    successes, trials = np.broadcast_arrays(
        np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64)
    )
    if not (np.all(np.isfinite(successes)) and np.all(np.isfinite(trials))):
        raise ValueError("k and n must be finite")
    if np.any(successes != np.round(successes)) or np.any(trials != np.round(trials)):
        raise ValueError("k and n must be integers")
    if np.any(successes < 0) or np.any(successes > trials):
        raise ValueError("k must lie in [0, n]")
    empty = trials == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        low, high = proportion_confint(
            np.atleast_1d(successes),
            np.atleast_1d(np.where(empty, 1.0, trials)),
            alpha=1.0 - level,
            method="beta",
        )
    low = np.where(empty, np.nan, np.reshape(low, successes.shape))
    high = np.where(empty, np.nan, np.reshape(high, successes.shape))
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)


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
    Clopper & Pearson, Biometrika 1934;26:404–413.
    """
    if isinstance(k, bool) or isinstance(n, bool):
        raise ValueError("k and n must be integers, not booleans")
    if int(k) != k or int(n) != n:
        raise ValueError(f"k and n must be integers, got k={k!r}, n={n!r}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if k < 0:
        raise ValueError(f"k must not be negative, got {k}")
    if k > n:
        raise ValueError(f"k={k} exceeds n={n}")
    low, high = clopper_pearson_limits(k, n, level)
    return ConfidenceInterval(float(low), float(high), level, CLOPPER_PEARSON)


def confusion_counts(
    y_true: Any, calls: Any
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """TP, FN, FP, TN of each row of ``calls`` (readers × cases, or one row) against ``y_true``."""
    truth = as_binary(y_true, "y_true")
    raw = np.asarray(calls)
    rows = np.atleast_2d(raw)
    if rows.ndim != 2 or rows.shape[1] != truth.size:
        raise ValueError(f"y_true and y_pred differ in length: {truth.size} != {rows.shape[-1]}")
    predicted = np.vstack([as_binary(row, "y_pred") for row in rows]).astype(np.float64)
    tp = predicted[:, truth].sum(axis=1)
    fp = predicted[:, ~truth].sum(axis=1)
    return tp, truth.sum() - tp, fp, (~truth).sum() - fp


def binary_ratios(tp: Any, fn: Any, fp: Any, tn: Any) -> dict[str, NDArray[np.float64]]:
    """Se, Sp, PPV, NPV and F1 from (possibly weighted) counts; NaN where undefined."""
    tp, fn, fp, tn = (np.asarray(v, dtype=np.float64) for v in (tp, fn, fp, tn))
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "sensitivity": tp / (tp + fn),
            "specificity": tn / (tn + fp),
            "ppv": tp / (tp + fp),
            "npv": tn / (tn + fn),
            "f1": 2 * tp / (2 * tp + fp + fn),
        }


def _f1(calls: NDArray[np.bool_], truth: NDArray[np.bool_], axis: int = -1) -> NDArray[np.float64]:
    tp = np.sum(calls & truth, axis=axis)
    wrong = np.sum(calls != truth, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(2 * tp / (2 * tp + wrong), dtype=np.float64)


def _f1_intervals(
    calls: NDArray[np.bool_], truth: NDArray[np.bool_], level: float, n_resamples: int, seed: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Percentile case-bootstrap limits of each reader's F1 (``scipy.stats.bootstrap``)."""
    result = stats.bootstrap(
        (calls, truth),
        _f1,
        paired=True,
        vectorized=True,
        axis=-1,
        n_resamples=n_resamples,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low = np.atleast_1d(np.asarray(result.confidence_interval.low, dtype=np.float64))
    high = np.atleast_1d(np.asarray(result.confidence_interval.high, dtype=np.float64))
    # A resample without positive truth and calls has no F1; scipy's percentile then is
    # NaN, so those rows take the percentile of the defined resamples instead.
    undefined = ~(np.isfinite(low) & np.isfinite(high))
    if undefined.any():
        distribution = np.atleast_2d(result.bootstrap_distribution)[undefined]
        alpha = 1.0 - level
        with np.errstate(invalid="ignore"):
            for i, row in zip(np.flatnonzero(undefined), distribution, strict=True):
                finite = row[np.isfinite(row)]
                if finite.size:
                    low[i], high[i] = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return low, high


def binary_metrics_by_reader(
    y_true: Any, calls: Any, level: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> tuple[BinaryMetrics, ...]:
    """:func:`binary_metrics` of each row of a readers × cases matrix of calls.

    One case bootstrap (the same resampled cases for every reader) gives the F1
    intervals of all readers.
    """
    level = check_level(level)
    if n_resamples < 2:
        raise ValueError(f"n_resamples must be at least 2, got {n_resamples}")
    tp, fn, fp, tn = confusion_counts(y_true, calls)
    truth = as_binary(y_true, "y_true")
    predicted = np.atleast_2d(np.asarray(calls)).astype(float) == 1.0
    ratios = binary_ratios(tp, fn, fp, tn)
    f1_low, f1_high = _f1_intervals(predicted, truth, level, n_resamples, seed)
    numerators = {"sensitivity": tp, "specificity": tn, "ppv": tp, "npv": tn}
    denominators = {"sensitivity": tp + fn, "specificity": tn + fp, "ppv": tp + fp, "npv": tn + fn}
    limits = {
        name: clopper_pearson_limits(numerators[name], denominators[name], level)
        for name in numerators
    }
    acc_low, acc_high = clopper_pearson_limits(tp + tn, truth.size, level)
    boot_method = "percentile bootstrap over cases"
    results = []
    for r in range(tp.size):
        fields = {
            name: Estimate(
                float(ratios[name][r]),
                ConfidenceInterval(limits[name][0][r], limits[name][1][r], level, CLOPPER_PEARSON),
                int(numerators[name][r]),
                int(denominators[name][r]),
            )
            for name in numerators
        }
        fields["f1"] = Estimate(
            float(ratios["f1"][r]),
            ConfidenceInterval(f1_low[r], f1_high[r], level, boot_method),
            int(2 * tp[r]),
            int(2 * tp[r] + fp[r] + fn[r]),
        )
        fields["accuracy"] = Estimate(
            float((tp[r] + tn[r]) / truth.size),
            ConfidenceInterval(acc_low[r], acc_high[r], level, CLOPPER_PEARSON),
            int(tp[r] + tn[r]),
            int(truth.size),
        )
        results.append(BinaryMetrics(**fields))
    return tuple(results)


def binary_metrics(
    y_true: Any, y_pred: Any, level: float = 0.95, seed: int = 0, n_resamples: int = 2000
) -> BinaryMetrics:
    """Sensitivity, specificity, PPV, NPV, accuracy (Clopper–Pearson) and F1 (bootstrap).

    Parameters
    ----------
    y_true, y_pred : array_like of 0/1
        Reference standard and binary call per case; 1 is the positive class (severe).
    level : float
        Confidence level of every interval.
    seed, n_resamples : int
        Seed and size of the case bootstrap behind the F1 interval (percentile,
        ``scipy.stats.bootstrap``).

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
    truth = as_binary(y_true, "y_true")
    pred = as_binary(y_pred, "y_pred")
    if truth.shape != pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {truth.size} != {pred.size}")
    return binary_metrics_by_reader(truth, pred[None, :], level, n_resamples, seed)[0]


def proportion_difference(k1: int, n1: int, k2: int, n2: int, level: float = 0.95) -> Estimate:
    """k1/n1 − k2/n2 with the unpooled Wald CI (statsmodels' ``confint_proportions_2indep``)."""
    level = check_level(level)
    if min(n1, n2) < 1:
        raise ValueError(f"both samples need at least one trial, got n1={n1}, n2={n2}")
    low, high = confint_proportions_2indep(
        k1, n1, k2, n2, method="wald", compare="diff", alpha=1.0 - level
    )
    return Estimate(
        k1 / n1 - k2 / n2, ConfidenceInterval(float(low), float(high), level, "Wald (unpooled)")
    )
