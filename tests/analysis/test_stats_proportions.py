"""Clopper–Pearson intervals and binary metrics against R and statsmodels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from analysis.stats import binary_metrics, clopper_pearson, clopper_pearson_limits
from tests.analysis.validation import validation_file


def test_matches_r_binom_test() -> None:
    # R: binom.test(18, 20)$conf.int -> 0.6830173 0.9876515 (R documentation output).
    ci = clopper_pearson(18, 20)
    assert (ci.low, ci.high) == pytest.approx((0.6830173, 0.9876515), abs=5e-8)
    assert ci.method == "Clopper-Pearson"


def test_validation_cases_match_statsmodels_beta_method() -> None:
    cases = pd.read_csv(
        validation_file("clopper_pearson", "cases.csv", "clopper_pearson_cases.csv")
    )
    for x, n in cases.itertuples(index=False):
        low, high = proportion_confint(x, n, alpha=0.05, method="beta")
        ci = clopper_pearson(int(x), int(n))
        assert (ci.low, ci.high) == pytest.approx((low, high), abs=1e-10)


def test_boundaries() -> None:
    assert clopper_pearson(0, 10).low == 0.0
    assert clopper_pearson(10, 10).high == 1.0
    # Exact one-sided limit at the boundary: 1 - (alpha/2)^(1/n).
    assert clopper_pearson(0, 10).high == pytest.approx(1 - 0.025 ** (1 / 10))


@pytest.mark.parametrize(
    ("k", "n", "message"),
    [(-1, 5, "negative"), (6, 5, "exceeds"), (0, 0, "at least 1"), (1.5, 5, "integers")],
)
def test_invalid_counts(k: float, n: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        clopper_pearson(k, n)  # type: ignore[arg-type]


def test_binary_metrics_counts_and_intervals() -> None:
    y_true = np.array([1] * 10 + [0] * 20)
    y_pred = np.array([1] * 8 + [0] * 2 + [1] * 3 + [0] * 17)
    result = binary_metrics(y_true, y_pred)
    assert result.sensitivity.value == pytest.approx(0.8)
    assert (result.sensitivity.numerator, result.sensitivity.denominator) == (8, 10)
    assert result.specificity.value == pytest.approx(17 / 20)
    assert result.ppv.value == pytest.approx(8 / 11)
    assert result.npv.value == pytest.approx(17 / 19)
    assert result.accuracy.value == pytest.approx(25 / 30)
    assert result.f1.value == pytest.approx(2 * 8 / (2 * 8 + 3 + 2))
    assert result.sensitivity.ci == clopper_pearson(8, 10)
    assert "bootstrap" in result.f1.ci.method
    assert result.f1.ci.low < result.f1.value < result.f1.ci.high
    assert binary_metrics(y_true, y_pred) == result  # seeded


def test_binary_metrics_validates() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        binary_metrics([1, 0], [1])
    with pytest.raises(ValueError, match="only 0 and 1"):
        binary_metrics([1, 2], [1, 0])


def test_vectorised_limits_match_r_and_mark_empty_denominators() -> None:
    # R: binom.test(18, 20)$conf.int -> 0.6830173 0.9876515; binom.test(0, 10) upper
    # limit 1 - 0.025^(1/10); an empty denominator has no interval.
    low, high = clopper_pearson_limits([18, 0, 0], [20, 10, 0])
    assert (low[0], high[0]) == pytest.approx((0.6830173, 0.9876515), abs=5e-8)
    assert (low[1], high[1]) == (0.0, pytest.approx(1 - 0.025 ** (1 / 10)))
    assert np.isnan(low[2]) and np.isnan(high[2])
    with pytest.raises(ValueError, match=r"\[0, n\]"):
        clopper_pearson_limits([3], [2])


def test_f1_interval_is_scipys_percentile_bootstrap() -> None:
    # Independent route: scipy.stats.bootstrap on the F1 of (truth, call) pairs, scalar
    # statistic, same seed and resample count.
    from scipy import stats

    y_true = np.array([1] * 10 + [0] * 20)
    y_pred = np.array([1] * 8 + [0] * 2 + [1] * 3 + [0] * 17)

    def f1(t: np.ndarray, p: np.ndarray) -> float:
        tp = np.sum((t == 1) & (p == 1))
        return 2 * tp / (2 * tp + np.sum(t != p))

    expected = stats.bootstrap(
        (y_true, y_pred),
        f1,
        paired=True,
        vectorized=False,
        n_resamples=500,
        method="percentile",
        rng=np.random.default_rng(3),
    )
    result = binary_metrics(y_true, y_pred, seed=3, n_resamples=500)
    assert result.f1.ci.low == pytest.approx(expected.confidence_interval.low)
    assert result.f1.ci.high == pytest.approx(expected.confidence_interval.high)
