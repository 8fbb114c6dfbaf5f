"""Figures of merit of reader rows and their case-sampling covariance.

The covariance is the jackknife's, DeLong's or the unbiased one (U-statistic moments); the
OR, model-vs-readers and split-plot analyses share these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analysis.stats.roc import auc_kernel, placements


@dataclass(frozen=True)
class _Figures:
    theta: NDArray[np.float64]  # k figures of merit (rows of the flattened design)
    leave_out: NDArray[np.float64]  # k x jackknifed cases
    v10: NDArray[np.float64] | None
    v01: NDArray[np.float64] | None
    kernel_rows: NDArray[np.float64] | None


def _figures(
    rows: NDArray[np.float64], truth: NDArray[np.bool_], endpoint: str, threshold: float | None
) -> _Figures:
    """Figures of merit of each row (k x cases) and their leave-one-case-out values."""
    if endpoint == "auc":
        theta, v10, v01 = placements(rows[:, truth], rows[:, ~truth])
        m, n = v10.shape[1], v01.shape[1]
        # Removing one case from a U-statistic: closed form from its placement value.
        drop_pos = (m * theta[:, None] - v10) / (m - 1)
        drop_neg = (n * theta[:, None] - v01) / (n - 1)
        return _Figures(theta, np.hstack([drop_pos, drop_neg]), v10, v01, None)
    assert threshold is not None
    calls = rows >= threshold
    hits = calls[:, truth] if endpoint == "sensitivity" else ~calls[:, ~truth]
    hits = hits.astype(np.float64)
    count = hits.shape[1]
    if count < 2:
        raise ValueError(f"{endpoint} needs at least two cases of its truth class")
    theta = hits.mean(axis=1)
    leave_out = (count * theta[:, None] - hits) / (count - 1)
    return _Figures(theta, leave_out, None, None, None)


def _jackknife_cov(leave_out: NDArray[np.float64]) -> NDArray[np.float64]:
    count = leave_out.shape[1]
    centred = leave_out - leave_out.mean(axis=1, keepdims=True)
    return np.asarray((count - 1) / count * centred @ centred.T, dtype=np.float64)


def _unbiased_cov(rows: NDArray[np.float64], truth: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Unbiased covariance of empirical AUCs (U-statistic moments, Gallas 2007)."""
    psi = auc_kernel(rows[:, truth], rows[:, ~truth])
    m, n = psi.shape[1], psi.shape[2]
    flat = psi.reshape(psi.shape[0], -1)
    s1 = flat @ flat.T
    row_sums = psi.sum(axis=2)  # k x m
    col_sums = psi.sum(axis=1)  # k x n
    same_pos = row_sums @ row_sums.T
    same_neg = col_sums @ col_sums.T
    total = np.outer(flat.sum(axis=1), flat.sum(axis=1))
    m1 = s1 / (m * n)
    m2 = (same_pos - s1) / (m * n * (n - 1))
    m3 = (same_neg - s1) / (m * (m - 1) * n)
    m4 = (total - same_pos - same_neg + s1) / (m * (m - 1) * n * (n - 1))
    return np.asarray((m1 + (n - 1) * m2 + (m - 1) * m3 - (m + n - 1) * m4) / (m * n))


def _covariance(
    rows: NDArray[np.float64], truth: NDArray[np.bool_], figures: _Figures, covariance: str
) -> NDArray[np.float64]:
    if covariance == "jackknife":
        return _jackknife_cov(figures.leave_out)
    if figures.v10 is None or figures.v01 is None:
        raise ValueError(f"covariance {covariance!r} applies to endpoint 'auc' only")
    if covariance == "delong":
        m, n = figures.v10.shape[1], figures.v01.shape[1]
        return np.asarray(np.cov(figures.v10) / m + np.cov(figures.v01) / n)
    return _unbiased_cov(rows, truth)
