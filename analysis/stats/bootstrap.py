"""Percentile bootstrap: generic (cases) and two-way (readers x cases) for MRMC data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.stats._checks import as_binary, check_level
from analysis.stats.results import ConfidenceInterval, Estimate

__all__ = ["bootstrap_ci", "reader_case_bootstrap"]


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


def _auc_kernel(ratings: NDArray[np.float64], truth: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Per reader, the positive x negative matrix of 1 / ½ / 0 (positive rated higher)."""
    pos = ratings[:, truth]
    neg = ratings[:, ~truth]
    diff = pos[:, :, None] - neg[:, None, :]
    return np.asarray((diff > 0) + 0.5 * (diff == 0), dtype=np.float64)


def reader_case_bootstrap(
    ratings: Any,
    truth: Any,
    metric: str = "auc",
    threshold: float | None = None,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Two-way bootstrap (readers and cases resampled) of a reader-averaged metric.

    Each resample draws readers with replacement and, independently, positive and
    negative cases with replacement (stratified by truth); the reader-averaged
    metric is recomputed from case weights in a vectorised way (no Python loop per
    resample).

    Parameters
    ----------
    ratings : array_like, shape (readers, cases) or (2, readers, cases)
        Ratings; with a leading axis of two modalities the statistic is the
        difference of reader-averaged metrics, first minus second.
    truth : array_like of 0/1, shape (cases,)
    metric : {"auc", "sensitivity", "specificity"}
        Empirical AUC (ties ½), or the proportion of positives (negatives) called
        positive (negative) by ``rating >= threshold``.
    threshold : float, optional
        Required for sensitivity and specificity.
    n_resamples, level, seed
        Bootstrap size, confidence level, seed.

    Returns
    -------
    Estimate
        The observed reader-averaged metric (or difference) with its percentile CI.

    References
    ----------
    Beiden SV, Wagner RF, Campbell G. Components-of-variance models and multiple-
    bootstrap experiments: an alternative method for random-effects ROC analysis.
    Acad Radiol 2000;7:341–349.
    """
    level = check_level(level)
    values = np.asarray(ratings, dtype=np.float64)
    paired = values.ndim == 3
    if values.ndim not in (2, 3) or (paired and values.shape[0] != 2):
        raise ValueError(
            f"ratings must be readers x cases or 2 x readers x cases, got shape {values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError("ratings contains NaN or infinite values")
    labels = as_binary(truth, "truth")
    if labels.size != values.shape[-1]:
        raise ValueError(f"truth has {labels.size} cases, ratings {values.shape[-1]}")
    if labels.all() or not labels.any():
        raise ValueError("truth holds only one class")
    if metric not in ("auc", "sensitivity", "specificity"):
        raise ValueError(f"metric must be 'auc', 'sensitivity' or 'specificity', got {metric!r}")
    if metric != "auc" and threshold is None:
        raise ValueError(f"metric {metric!r} needs a threshold")
    if n_resamples < 2:
        raise ValueError(f"n_resamples must be at least 2, got {n_resamples}")
    stack = values if paired else values[None]
    readers = stack.shape[1]
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    rng = np.random.default_rng(seed)
    reader_w = rng.multinomial(readers, np.full(readers, 1.0 / readers), size=n_resamples)
    pos_w = rng.multinomial(n_pos, np.full(n_pos, 1.0 / n_pos), size=n_resamples).astype(float)
    neg_w = rng.multinomial(n_neg, np.full(n_neg, 1.0 / n_neg), size=n_resamples).astype(float)

    if metric == "auc":
        kernels = [_auc_kernel(m, labels) for m in stack]
        kernel = kernels[0] - kernels[1] if paired else kernels[0]
        observed = float(kernel.mean())
        # Per reader one 2-D GEMM: (resamples x P) @ (P x N), then weight the negatives.
        per_reader = np.empty((n_resamples, readers))
        for r in range(readers):
            per_reader[:, r] = np.einsum("bq,bq->b", pos_w @ kernel[r], neg_w)
        per_reader /= n_pos * n_neg
    else:
        assert threshold is not None  # checked above
        calls = stack >= threshold
        if metric == "sensitivity":
            hits, weights, count = calls[:, :, labels], pos_w, n_pos
        else:
            hits, weights, count = ~calls[:, :, ~labels], neg_w, n_neg
        score = hits.astype(float)
        score = score[0] - score[1] if paired else score[0]
        observed = float(score.mean())
        per_reader = weights @ score.T / count
    boot = np.sum(reader_w * per_reader, axis=1) / readers
    alpha = 1.0 - level
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    ci = ConfidenceInterval(
        float(low), float(high), level, "two-way (reader x case) percentile bootstrap"
    )
    return Estimate(observed, ci)
