"""Generic and two-way bootstrap: reproducibility, stratification, brute-force oracle."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.stats import (
    bootstrap_ci,
    reader_case_bootstrap,
    reader_case_bootstrap_metrics,
    roc_auc,
)


def test_bootstrap_ci_of_mean_is_close_to_t_interval() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(10, 2, 200)
    ci = bootstrap_ci(np.mean, x, n_resamples=1000, seed=3)
    t_ci = stats.ttest_1samp(x, 0).confidence_interval()
    assert ci.low == pytest.approx(t_ci.low, abs=0.1)
    assert ci.high == pytest.approx(t_ci.high, abs=0.1)
    assert bootstrap_ci(np.mean, x, n_resamples=200, seed=3) == bootstrap_ci(
        np.mean, x, n_resamples=200, seed=3
    )


def test_stratified_bootstrap_keeps_class_counts() -> None:
    y = np.r_[np.ones(5, int), np.zeros(30, int)]
    s = np.arange(35.0)
    seen = []

    def positives(labels: np.ndarray, scores: np.ndarray) -> float:
        seen.append(int(labels.sum()))
        return roc_auc(labels, scores).auc

    bootstrap_ci(positives, y, s, n_resamples=50, stratify=y)
    assert set(seen) == {5}


def _slow_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Mann–Whitney definition by explicit pair loops (ties ½)."""
    total = 0.0
    for p in pos:
        for q in neg:
            total += 1.0 if p > q else 0.5 if p == q else 0.0
    return total / (pos.size * neg.size)


def _brute_force(ratings: np.ndarray, truth: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """The bootstrap by its definition: draw readers, positive and negative cases with
    replacement (the same draws as the library: readers, then positives, then negatives),
    build each resampled study and average its readers' AUCs."""
    readers = ratings.shape[0]
    pos = np.flatnonzero(truth == 1)
    neg = np.flatnonzero(truth == 0)
    rng = np.random.default_rng(seed)
    rw = rng.integers(0, readers, size=(n_resamples, readers))
    pw = rng.integers(0, pos.size, size=(n_resamples, pos.size))
    nw = rng.integers(0, neg.size, size=(n_resamples, neg.size))
    out = np.empty(n_resamples)
    for b in range(n_resamples):
        study = ratings[rw[b]]
        out[b] = np.mean([_slow_auc(row[pos[pw[b]]], row[neg[nw[b]]]) for row in study])
    return out


def test_two_way_bootstrap_equals_brute_force() -> None:
    rng = np.random.default_rng(2)
    truth = np.r_[np.ones(6, int), np.zeros(8, int)]
    ratings = rng.integers(1, 6, size=(4, 14)).astype(float) + truth
    values = _brute_force(ratings, truth, 60, seed=9)
    result = reader_case_bootstrap(ratings, truth, n_resamples=60, seed=9)
    assert result.ci.low == pytest.approx(np.quantile(values, 0.025))
    assert result.ci.high == pytest.approx(np.quantile(values, 0.975))
    assert result.value == pytest.approx(np.mean([roc_auc(truth, r).auc for r in ratings]))


def test_two_way_binary_metrics_equal_brute_force() -> None:
    # PPV, NPV and F1 of resampled studies by their definition; a reader whose PPV is
    # undefined in a resample (no positive call) is left out of that resample's mean.
    rng = np.random.default_rng(7)
    truth = np.r_[np.ones(5, int), np.zeros(9, int)]
    calls = (rng.random((3, 14)) < 0.3).astype(int)
    result = reader_case_bootstrap_metrics(
        truth, calls=calls, metrics=("ppv", "npv", "f1"), n_resamples=80, seed=4
    )
    pos, neg = np.flatnonzero(truth == 1), np.flatnonzero(truth == 0)
    draws = np.random.default_rng(4)
    rw = draws.integers(0, 3, size=(80, 3))
    pw = draws.integers(0, pos.size, size=(80, pos.size))
    nw = draws.integers(0, neg.size, size=(80, neg.size))
    for metric in ("ppv", "npv", "f1"):
        boot = []
        for b in range(80):
            cases = np.r_[pos[pw[b]], neg[nw[b]]]
            values = []
            for r in rw[b]:
                c, t = calls[r, cases], truth[cases]
                tp, fp = np.sum((c == 1) & (t == 1)), np.sum((c == 1) & (t == 0))
                fn, tn = np.sum((c == 0) & (t == 1)), np.sum((c == 0) & (t == 0))
                num, den = {
                    "ppv": (tp, tp + fp),
                    "npv": (tn, tn + fn),
                    "f1": (2 * tp, 2 * tp + fp + fn),
                }[metric]
                if den:
                    values.append(num / den)
            boot.append(np.mean(values) if values else np.nan)
        finite = np.array(boot)
        finite = finite[np.isfinite(finite)]
        assert result[metric].ci.low == pytest.approx(np.quantile(finite, 0.025))
        assert result[metric].ci.high == pytest.approx(np.quantile(finite, 0.975))


def test_two_way_bootstrap_difference_and_binary_metrics() -> None:
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 2, 80)
    a = rng.normal(size=(5, 80)) + truth
    diff = reader_case_bootstrap(np.stack([a, a]), truth, n_resamples=100)
    assert diff.value == 0 and diff.ci.low == 0 and diff.ci.high == 0
    sens = reader_case_bootstrap(a, truth, metric="sensitivity", threshold=0.5, n_resamples=100)
    assert sens.value == pytest.approx(np.mean(a[:, truth == 1] >= 0.5))
    assert sens.ci.low <= sens.value <= sens.ci.high


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError, match="one class"):
        reader_case_bootstrap(np.ones((2, 3)), [1, 1, 1])
    with pytest.raises(ValueError, match="threshold"):
        reader_case_bootstrap(np.ones((2, 3)), [1, 0, 1], metric="sensitivity")
    with pytest.raises(ValueError, match="rows"):
        bootstrap_ci(np.mean, np.ones(3), np.ones(4))
