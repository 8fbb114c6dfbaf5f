"""Percentile bootstrap: generic (cases) and two-way (readers x cases) for MRMC data.

The case bootstrap is ``scipy.stats.bootstrap``; written here are what scipy lacks:
resampling within strata (so that an AUC keeps both classes) and the two-way bootstrap
that resamples readers and cases independently (Beiden, Wagner & Campbell 2000).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from analysis.stats._checks import as_binary, both_classes, check_level
from analysis.stats.proportions import BINARY_METRICS, binary_ratios
from analysis.stats.results import ConfidenceInterval, Estimate
from analysis.stats.roc import auc_kernel

__all__ = [
    "bootstrap_ci",
    "reader_case_bootstrap",
    "reader_case_bootstrap_metrics",
    "resample_counts",
]

TWO_WAY_METRICS = ("auc", *BINARY_METRICS)


def _resample_indices(
    rng: np.random.Generator, n: int, strata: NDArray[Any] | None
) -> NDArray[np.intp]:
    if strata is None:
        return rng.integers(0, n, size=n)
    parts = []
    for value in np.unique(strata):
        members = np.flatnonzero(strata == value)
        parts.append(members[rng.integers(0, members.size, size=members.size)])
    return np.concatenate(parts)


def bootstrap_ci(
    statistic: Callable[..., float],
    *arrays: Any,
    n_resamples: int = 2000,
    level: float = 0.95,
    stratify: Any = None,
    seed: int = 0,
) -> ConfidenceInterval:
    """Percentile bootstrap CI of ``statistic(*arrays)``, resampling rows jointly.

    Parameters
    ----------
    statistic : callable
        Called with the resampled arrays (same row indices for all), returns a float.
    *arrays : array_like
        Arrays sharing their first dimension (cases).
    n_resamples : int
    level : float
    stratify : array_like, optional
        Labels; rows are resampled within each label (e.g. the truth class, so that an
        AUC always has both classes).
    seed : int
        Seed of ``numpy.random.default_rng``; the result is reproducible.

    Returns
    -------
    ConfidenceInterval
        Percentile limits; resamples where the statistic is not finite are dropped.

    References
    ----------
    Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall, 1993.
    """
    level = check_level(level)
    if not arrays:
        raise ValueError("bootstrap_ci needs at least one array")
    if n_resamples < 2:
        raise ValueError(f"n_resamples must be at least 2, got {n_resamples}")
    data = [np.asarray(a) for a in arrays]
    n = data[0].shape[0] if data[0].ndim else 0
    if n == 0:
        raise ValueError("arrays are empty")
    for i, array in enumerate(data):
        if array.ndim == 0 or array.shape[0] != n:
            raise ValueError(f"array {i} has {array.shape[:1]} rows, expected {n}")
    strata = None
    if stratify is not None:
        strata = np.asarray(stratify)
        if strata.shape != (n,):
            raise ValueError(f"stratify must have length {n}, got shape {strata.shape}")
    rng = np.random.default_rng(seed)
    if strata is None:
        result = stats.bootstrap(
            (np.arange(n),),
            lambda idx: statistic(*(array[idx] for array in data)),
            vectorized=False,
            n_resamples=n_resamples,
            confidence_level=level,
            method="percentile",
            rng=rng,
        )
        values = np.asarray(result.bootstrap_distribution, dtype=np.float64)
    else:
        values = np.empty(n_resamples)
        for b in range(n_resamples):
            idx = _resample_indices(rng, n, strata)
            values[b] = statistic(*(array[idx] for array in data))
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError("the statistic was not finite on any resample")
    alpha = 1.0 - level
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return ConfidenceInterval(float(low), float(high), level, "percentile bootstrap")


def resample_counts(rng: np.random.Generator, n: int, n_resamples: int) -> NDArray[np.float64]:
    """Bootstrap weights: how often each of ``n`` units is drawn, one row per resample.

    Each row is one draw of ``n`` indices with replacement (``rng.integers``), counted
    with one ``bincount``: a multinomial(n, 1/n) draw, much faster than numpy's
    multinomial for hundreds of categories.
    """
    draws = rng.integers(0, n, size=(n_resamples, n))
    draws += np.arange(n_resamples)[:, None] * n
    counts = np.bincount(draws.ravel(), minlength=n_resamples * n).reshape(n_resamples, n)
    return counts.astype(np.float64)


def _stack(values: Any, name: str, cases: int) -> NDArray[np.float64]:
    """(modalities, readers, cases) from readers x cases or 2 x readers x cases."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[0] != 2):
        raise ValueError(
            f"{name} must be readers x cases or 2 x readers x cases, got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if array.shape[-1] != cases:
        raise ValueError(f"truth has {cases} cases, {name} {array.shape[-1]}")
    return array if array.ndim == 3 else array[None]


def _reader_mean(
    per_reader: NDArray[np.float64], reader_w: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Weighted mean over readers per resample; a reader undefined in a resample is left out."""
    finite = np.isfinite(per_reader)
    weights = reader_w * finite
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(
            (np.where(finite, per_reader, 0.0) * weights).sum(axis=-1) / weights.sum(axis=-1),
            dtype=np.float64,
        )


def reader_case_bootstrap_metrics(
    truth: Any,
    *,
    ratings: Any = None,
    calls: Any = None,
    metrics: tuple[str, ...] = ("auc",),
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Estimate]:
    """Two-way bootstrap (readers and cases resampled) of reader-averaged metrics.

    One set of resamples serves every metric: readers are drawn with replacement and,
    independently, positive and negative cases with replacement (stratified by truth);
    each reader's metric is recomputed from case weights without a Python loop per
    resample, then averaged over the drawn readers (a reader whose metric is undefined in
    a resample, e.g. PPV without positive calls, is left out of that resample's mean).

    Hand-written: ``scipy.stats.bootstrap`` resamples one index set, not readers and
    cases independently.

    Parameters
    ----------
    truth : array_like of 0/1, shape (cases,)
    ratings : array_like, shape (readers, cases) or (2, readers, cases)
        Ratings for the AUC (empirical, ties ½). With a leading axis of two modalities
        the statistic is the difference of reader-averaged metrics, first minus second.
    calls : array_like of 0/1, same shapes
        Binary calls for sensitivity, specificity, PPV, NPV and F1.
    metrics : tuple of {"auc", "sensitivity", "specificity", "ppv", "npv", "f1"}
    n_resamples, level, seed
        Bootstrap size, confidence level, seed.

    Returns
    -------
    dict of str to Estimate
        Per metric the observed reader-averaged value (or difference) with its
        percentile CI.

    References
    ----------
    Beiden SV, Wagner RF, Campbell G. Components-of-variance models and multiple-
    bootstrap experiments: an alternative method for random-effects ROC analysis.
    Acad Radiol 2000;7:341–349.
    """
    level = check_level(level)
    labels = as_binary(truth, "truth")
    both_classes(labels, "truth")
    unknown = [m for m in metrics if m not in TWO_WAY_METRICS]
    if unknown or not metrics:
        raise ValueError(f"metrics must be among {TWO_WAY_METRICS}, got {metrics!r}")
    if n_resamples < 2:
        raise ValueError(f"n_resamples must be at least 2, got {n_resamples}")
    stacks = {}
    if "auc" in metrics:
        if ratings is None:
            raise ValueError("metric 'auc' needs ratings")
        stacks["auc"] = _stack(ratings, "ratings", labels.size)
    if set(metrics) - {"auc"}:
        if calls is None:
            raise ValueError(f"metrics {sorted(set(metrics) - {'auc'})} need calls")
        stacks["calls"] = _stack(calls, "calls", labels.size)
    shapes = {stack.shape[:2] for stack in stacks.values()}
    if len(shapes) > 1:
        raise ValueError(f"ratings and calls differ in shape: {sorted(shapes)}")
    modalities, readers = shapes.pop()
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    rng = np.random.default_rng(seed)
    reader_w = resample_counts(rng, readers, n_resamples)
    pos_w = resample_counts(rng, n_pos, n_resamples)
    neg_w = resample_counts(rng, n_neg, n_resamples)

    # Per modality: metric -> (observed per reader, resamples x readers).
    per_modality: list[dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]]] = []
    for t in range(modalities):
        found: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
        if "auc" in stacks:
            kernel = auc_kernel(stacks["auc"][t][:, labels], stacks["auc"][t][:, ~labels])
            boot = np.empty((n_resamples, readers))
            for r in range(readers):
                # One GEMM per reader: (resamples x P) @ (P x N), then weight the negatives.
                boot[:, r] = np.einsum("bq,bq->b", pos_w @ kernel[r], neg_w)
            found["auc"] = (kernel.mean(axis=(1, 2)), boot / (n_pos * n_neg))
        if "calls" in stacks:
            positive = stacks["calls"][t] >= 0.5
            pos, neg = positive[:, labels].astype(float), positive[:, ~labels].astype(float)
            observed = binary_ratios(pos.sum(1), n_pos - pos.sum(1), neg.sum(1), n_neg - neg.sum(1))
            tp = pos_w @ pos.T
            fp = neg_w @ neg.T
            boot_ratios = binary_ratios(tp, n_pos - tp, fp, n_neg - fp)
            for name in BINARY_METRICS:
                found[name] = (observed[name], boot_ratios[name])
        per_modality.append(found)

    alpha = 1.0 - level
    method = "two-way (reader x case) percentile bootstrap"
    results = {}
    for name in metrics:
        with np.errstate(invalid="ignore"):
            values = [float(np.nanmean(found[name][0])) for found in per_modality]
            means = [_reader_mean(found[name][1], reader_w) for found in per_modality]
        observed_value = values[0] - values[1] if modalities == 2 else values[0]
        boot_mean = means[0] - means[1] if modalities == 2 else means[0]
        boot_mean = boot_mean[np.isfinite(boot_mean)]
        if boot_mean.size:
            low, high = np.quantile(boot_mean, [alpha / 2, 1 - alpha / 2])
        else:
            low = high = float("nan")
        results[name] = Estimate(observed_value, ConfidenceInterval(low, high, level, method))
    return results


def reader_case_bootstrap(
    ratings: Any,
    truth: Any,
    metric: str = "auc",
    threshold: float | None = None,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Two-way bootstrap of one reader-averaged metric of ratings.

    :func:`reader_case_bootstrap_metrics` for one metric; the binary metrics call
    ``rating >= threshold`` positive.

    Parameters
    ----------
    ratings : array_like, shape (readers, cases) or (2, readers, cases)
    truth : array_like of 0/1, shape (cases,)
    metric : {"auc", "sensitivity", "specificity", "ppv", "npv", "f1"}
    threshold : float, optional
        Required for every metric but the AUC.
    n_resamples, level, seed
        Bootstrap size, confidence level, seed.

    Returns
    -------
    Estimate
        The observed reader-averaged metric (or difference) with its percentile CI.

    References
    ----------
    Beiden, Wagner & Campbell, Acad Radiol 2000;7:341–349.
    """
    if metric not in TWO_WAY_METRICS:
        raise ValueError(f"metric must be one of {TWO_WAY_METRICS}, got {metric!r}")
    if metric != "auc" and threshold is None:
        raise ValueError(f"metric {metric!r} needs a threshold")
    values = np.asarray(ratings, dtype=np.float64)
    calls = None if threshold is None else (values >= threshold).astype(float)
    return reader_case_bootstrap_metrics(
        truth,
        ratings=values,
        calls=calls,
        metrics=(metric,),
        n_resamples=n_resamples,
        level=level,
        seed=seed,
    )[metric]
