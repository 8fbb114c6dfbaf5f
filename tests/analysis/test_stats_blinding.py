"""Bang's and James' blinding indices against Bang et al. 2004 and an independent bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats import bang_blinding_index, james_blinding_index
from tests.analysis.validation import validation_file


def _tables() -> dict[str, np.ndarray]:
    frame = pd.read_csv(validation_file("blinding_index_bang", "bi_tables.csv"))
    tables = {}
    for name, group in frame.groupby("example", sort=False):
        # File rows are guesses (Treatment, Placebo, DontKnow), columns actual arms;
        # our table is arms x guesses.
        tables[str(name)] = group[["actual_treatment", "actual_placebo"]].to_numpy().T
    return tables


def test_bang_crisp_matches_bang_2004() -> None:
    # Bang, Ni & Davis (2004), Table 7 (CRISP): treatment BI 0.21, placebo BI 0.01
    # (printed to two decimals).
    treatment, placebo = bang_blinding_index(_tables()["CRISP_Bang2004_Table7"])
    assert round(treatment.estimate, 2) == 0.21
    assert round(placebo.estimate, 2) == 0.01


@pytest.mark.parametrize("example", list(_tables()))
def test_bang_se_agrees_with_multinomial_monte_carlo(example: str) -> None:
    # Independent of Bang's variance formula: the SD of the index over multinomial
    # resamples of each arm's answers ("don't know" kept in the denominator), and the
    # index itself recomputed from the resampled counts by its definition
    # (correct − wrong) / n of Bang, Ni & Davis 2004 for two arms.
    table = _tables()[example]
    rng = np.random.default_rng(11)
    for arm, result in enumerate(bang_blinding_index(table)):
        row = table[arm].astype(float)
        n = int(row.sum())
        draws = rng.multinomial(n, row / n, size=4000)
        values = (draws[:, arm] - draws[:, 1 - arm]) / n
        assert result.estimate == pytest.approx((row[arm] - row[1 - arm]) / n)
        assert result.se == pytest.approx(np.std(values, ddof=1), rel=0.05)
        assert result.ci.low < result.estimate < result.ci.high
        assert result.ci.low < result.lower_one_sided < result.estimate
        assert result.bootstrap_ci is not None
        assert result.bootstrap_ci.low == pytest.approx(result.ci.low, abs=0.01)
        assert result.bootstrap_ci.high == pytest.approx(result.ci.high, abs=0.01)


def _james_point(table: np.ndarray) -> float:
    return james_blinding_index(table).estimate


@pytest.mark.parametrize("example", list(_tables()))
def test_james_se_agrees_with_multinomial_bootstrap(example: str) -> None:
    # Independent check of James' (1996) delta-method SE: the SD of the index over
    # multinomial resamples of the whole table.
    table = _tables()[example]
    result = james_blinding_index(table)
    rng = np.random.default_rng(5)
    flat = table.ravel().astype(float)
    draws = rng.multinomial(int(flat.sum()), flat / flat.sum(), size=300)
    values = [_james_point(d.reshape(table.shape)) for d in draws]
    assert np.std(values, ddof=1) == pytest.approx(result.se, rel=0.15)
    assert 0 <= result.estimate <= 1


def test_james_edge_cases() -> None:
    # James 1996 p. 1425: only "don't know" answers -> index 1, SE 0.
    only_dk = james_blinding_index([[0, 0, 10], [0, 0, 12]])
    assert (only_dk.estimate, only_dk.se) == (1.0, 0.0)
    # Every guess correct, no "don't know": complete unblinding -> 0.
    assert james_blinding_index([[10, 0, 0], [0, 10, 0]]).estimate == pytest.approx(0.0)
    # Guesses independent of the arm: random guessing -> 0.5.
    assert james_blinding_index([[10, 10, 0], [10, 10, 0]]).estimate == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ([[1, 2], [3, 4]], "arms x"),
        ([[1, 2, 3]], "arms x"),
        ([[1, -2, 3], [1, 2, 3]], "negative"),
        ([[1, np.nan, 3], [1, 2, 3]], "NaN"),
        ([[0, 0, 0], [1, 2, 3]], "no answers"),
    ],
)
def test_bad_tables_raise(table: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bang_blinding_index(table)
    with pytest.raises(ValueError, match=message):
        james_blinding_index(table)


@pytest.mark.parametrize("example", list(_tables()))
def test_bang_bootstrap_ci_agrees_with_a_plain_multinomial_loop(example: str) -> None:
    # The CI comes from scipy.stats.bootstrap of each arm's answers; here the same
    # percentile interval is made independently from multinomial draws of the arm's row.
    table = _tables()[example]
    rng = np.random.default_rng(99)
    for arm, result in enumerate(bang_blinding_index(table, n_resamples=4000, seed=1)):
        row = table[arm].astype(float)
        n = int(row.sum())
        draws = rng.multinomial(n, row / n, size=4000)
        values = (draws[:, arm] - draws[:, 1 - arm]) / n
        low, high = np.quantile(values, [0.025, 0.975])
        assert result.bootstrap_ci is not None
        assert result.bootstrap_ci.low == pytest.approx(low, abs=0.01)
        assert result.bootstrap_ci.high == pytest.approx(high, abs=0.01)
        assert "scipy" in result.bootstrap_ci.method


def test_bang_bootstrap_of_an_arm_that_answered_alike() -> None:
    # All "don't know" in arm 1: the index is 0 in every resample; arm 2 all correct: 1.
    first, second = bang_blinding_index([[0, 0, 12], [0, 9, 0]], n_resamples=200)
    assert first.bootstrap_ci is not None and second.bootstrap_ci is not None
    assert (first.bootstrap_ci.low, first.bootstrap_ci.high) == (0.0, 0.0)
    assert (second.bootstrap_ci.low, second.bootstrap_ci.high) == (1.0, 1.0)
