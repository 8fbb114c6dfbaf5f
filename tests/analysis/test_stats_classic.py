"""Classic tests against R's documented output, statsmodels, and permutation oracles."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from analysis.stats import (
    benjamini_hochberg,
    chi_square,
    mann_whitney,
    paired_t,
    welch_t,
    wilcoxon_signed_rank,
)
from tests.analysis.validation import validation_file


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(validation_file("classic_tests", name))


def test_welch_t_matches_r_sleep() -> None:
    # R: t.test(extra ~ group, data = sleep) -> t = -1.8608, df = 17.776, p-value = 0.07939,
    # 95 percent CI -3.3654832 0.2054832 (R documentation example, ?t.test / ?sleep).
    sleep = _csv("sleep.csv")
    a = sleep.loc[sleep.group == 1, "extra"]
    b = sleep.loc[sleep.group == 2, "extra"]
    result = welch_t(a, b)
    assert result.statistic == pytest.approx(-1.8608, abs=5e-5)
    assert result.df == pytest.approx(17.776, abs=5e-4)
    assert result.pvalue == pytest.approx(0.07939, abs=5e-6)
    assert result.ci is not None
    assert result.ci.low == pytest.approx(-3.3654832, abs=5e-8)
    assert result.ci.high == pytest.approx(0.2054832, abs=5e-8)
    assert "Welch" in result.method


def test_paired_t_matches_r_sleep() -> None:
    # R: t.test(extra[group == 1], extra[group == 2], paired = TRUE) on sleep ->
    # t = -4.0621, df = 9, p-value = 0.002833 (R ?sleep example).
    sleep = _csv("sleep.csv")
    a = sleep.loc[sleep.group == 1, "extra"].to_numpy()
    b = sleep.loc[sleep.group == 2, "extra"].to_numpy()
    result = paired_t(a, b)
    assert result.statistic == pytest.approx(-4.0621, abs=5e-5)
    assert result.df == 9
    assert result.pvalue == pytest.approx(0.002833, abs=5e-7)


def test_mann_whitney_matches_r_hollander_wolfe() -> None:
    # R ?wilcox.test, Hollander & Wolfe (1973) p. 69: wilcox.test(x, y, alternative = "g")
    # -> W = 35, p-value = 0.1272.
    frame = _csv("chorioamnion_mannwhitney.csv")
    x = frame.loc[frame.group == "x", "value"].to_numpy()
    y = frame.loc[frame.group == "y", "value"].to_numpy()
    result = mann_whitney(x, y, alternative="greater")
    assert result.statistic == 35
    assert result.pvalue == pytest.approx(0.1272, abs=5e-5)
    assert "exact" in result.method


def test_wilcoxon_matches_r_depression() -> None:
    # R ?wilcox.test, Hollander & Wolfe (1973) p. 29 depression data:
    # wilcox.test(x, y, paired = TRUE, alternative = "greater") -> V = 40, p-value = 0.01953.
    frame = _csv("depression_signedrank.csv")
    result = wilcoxon_signed_rank(frame.first_x - frame.second_y, alternative="greater")
    assert result.statistic == 40
    assert result.pvalue == pytest.approx(0.01953, abs=5e-6)
    assert "exact" in result.method


def test_chi_square_matches_r_agresti() -> None:
    # R ?chisq.test, Agresti (2007) p. 39: X-squared = 30.07, df = 2, p-value = 2.954e-07.
    frame = _csv("agresti_gender_party.csv").set_index("gender")
    result = chi_square(frame.to_numpy())
    assert result.statistic == pytest.approx(30.07, abs=5e-3)
    assert result.df == 2
    assert result.pvalue == pytest.approx(2.954e-07, abs=5e-11)


def test_benjamini_hochberg_1995_example() -> None:
    # Benjamini & Hochberg (1995), section 3.2: of the 15 p-values, q = 0.05 rejects the
    # four smallest.
    frame = _csv("bh_pvalues.csv")
    p = frame.loc[frame.set == "bh1995_15", "p"].to_numpy()
    rejected, _adjusted = benjamini_hochberg(p, q=0.05)
    assert rejected.tolist() == [True] * 4 + [False] * 11
    # Definition (R p.adjust "BH"): adjusted_(i) = min_{j >= i} p_(j) m / j.
    for other in frame.set.unique():
        values = frame.loc[frame.set == other, "p"].to_numpy()
        order = np.argsort(values)
        m = values.size
        scaled = values[order] * m / np.arange(1, m + 1)
        expected = np.minimum.accumulate(scaled[::-1])[::-1].clip(max=1)
        _, got = benjamini_hochberg(values)
        assert got[order] == pytest.approx(expected)


def _signed_rank_permutation_p(d: np.ndarray) -> float:
    ranks = pd.Series(np.abs(d)).rank().to_numpy()
    observed = ranks[d > 0].sum()
    count = 0
    total = 0
    for signs in itertools.product((0, 1), repeat=d.size):
        total += 1
        count += ranks[np.array(signs, dtype=bool)].sum() >= observed
    return count / total


def _rank_sum_permutation_p(x: np.ndarray, y: np.ndarray) -> float:
    pooled = np.concatenate([x, y])
    observed = sum((a > b) + 0.5 * (a == b) for a in x for b in y)
    count = 0
    total = 0
    for chosen in itertools.combinations(range(pooled.size), x.size):
        mask = np.zeros(pooled.size, dtype=bool)
        mask[list(chosen)] = True
        u = sum((a > b) + 0.5 * (a == b) for a in pooled[mask] for b in pooled[~mask])
        count += u >= observed
        total += 1
    return count / total


def test_exact_tests_equal_permutation_distribution() -> None:
    rng = np.random.default_rng(11)
    d = rng.normal(0.4, 1, 10)
    assert wilcoxon_signed_rank(d, alternative="greater").pvalue == pytest.approx(
        _signed_rank_permutation_p(d)
    )
    x, y = rng.normal(0.5, 1, 6), rng.normal(0, 1, 5)
    assert mann_whitney(x, y, alternative="greater").pvalue == pytest.approx(
        _rank_sum_permutation_p(x, y)
    )


def test_wilcoxon_two_sided_statistic_is_v() -> None:
    d = np.array([1.5, -0.5, 2.5, 3.5, -4.5])
    result = wilcoxon_signed_rank(d)
    assert result.statistic == 2 + 3 + 4  # ranks of |1.5|, |2.5|, |3.5| among 0.5 ... 4.5


def test_ties_use_normal_approximation() -> None:
    result = mann_whitney([1, 2, 2, 3], [2, 3, 4, 4])
    assert "continuity" in result.method


@pytest.mark.parametrize(
    ("table", "message"),
    [([[1, -2], [3, 4]], "negative"), ([[1, np.nan], [3, 4]], "NaN"), ([1, 2, 3], "2-D")],
)
def test_chi_square_rejects_bad_tables(table: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        chi_square(table)


def test_inputs_are_validated() -> None:
    with pytest.raises(ValueError, match="NaN"):
        welch_t([1.0, np.nan, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="differ in length"):
        paired_t([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        benjamini_hochberg([0.1, 1.2])
