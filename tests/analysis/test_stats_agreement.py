"""Fleiss' and Cohen's kappa against R irr, SAS PROC FREQ and statsmodels' tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.stats import cohen_kappa, fleiss_kappa
from tests.analysis.validation import validation_file


def test_fleiss_matches_irr_diagnoses() -> None:
    # R irr: kappam.fleiss(diagnoses) -> Kappa = 0.4302445, z = 17.65183, p-value = 0
    # (as recorded in statsmodels/stats/tests/test_inter_rater.py, test_fleiss_kappa_irr).
    ratings = pd.read_csv(validation_file("kappa_fleiss_diagnoses", "diagnoses.csv"))
    result = fleiss_kappa(ratings.drop(columns="subject").to_numpy(), n_resamples=400)
    assert result.kappa == pytest.approx(0.4302445, abs=5e-8)
    assert result.statistic == pytest.approx(17.65183, abs=5e-6)
    assert result.pvalue < 1e-60
    # The CI is a subject bootstrap, never kappa +- z * se_h0.
    assert result.se != pytest.approx(result.se_h0)
    assert result.ci.low < result.kappa < result.ci.high
    assert "bootstrap" in result.ci.method


def _expand(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = [], []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            a += [i + 1] * int(count)
            b += [j + 1] * int(count)
    return np.array(a), np.array(b)


def test_cohen_matches_sas_table10() -> None:
    # SAS PROC FREQ AGREE output for this table, as quoted in statsmodels'
    # test_inter_rater.py (TestCohens / TestWeightedCohens):
    # simple kappa 0.4842, ASE 0.1380, CI 0.2137 0.7547, ASE under H0 0.1484, Z 3.2626,
    # two-sided p 0.0011; weighted (Cicchetti-Allison) 0.4701, ASE 0.1457, CI 0.1845
    # 0.7558, ASE under H0 0.1426, Z 3.2971, two-sided p 0.0010.
    frame = pd.read_csv(validation_file("kappa_cohen", "sas_table10.csv"))
    a, b = _expand(frame.drop(columns="rater1_category").to_numpy())
    simple = cohen_kappa(a, b)
    assert simple.kappa == pytest.approx(0.4842, abs=5e-5)
    assert simple.se == pytest.approx(0.1380, abs=5e-5)
    assert (simple.ci.low, simple.ci.high) == pytest.approx((0.2137, 0.7547), abs=5e-5)
    assert simple.se_h0 == pytest.approx(0.1484, abs=5e-5)
    assert simple.statistic == pytest.approx(3.2626, abs=5e-5)
    assert simple.pvalue == pytest.approx(0.0011, abs=5e-5)
    weighted = cohen_kappa(a, b, weights="linear")
    assert weighted.kappa == pytest.approx(0.4701, abs=5e-5)
    assert weighted.se == pytest.approx(0.1457, abs=5e-5)
    assert (weighted.ci.low, weighted.ci.high) == pytest.approx((0.1845, 0.7558), abs=5e-5)
    assert weighted.se_h0 == pytest.approx(0.1426, abs=5e-5)
    assert weighted.statistic == pytest.approx(3.2971, abs=5e-5)
    assert weighted.pvalue == pytest.approx(0.0010, abs=5e-5)


@pytest.mark.parametrize(
    ("weights", "kappa", "z", "p"),
    [
        # R irr: kappa2(anxiety[, 2:3]), "equal", "squared" (values quoted in statsmodels'
        # test_inter_rater.py, test_cohens_kappa_irr).
        (None, -0.006289308, -0.0604067, 0.9518317),
        ("linear", 0.1459075, 1.282472, 0.1996772),
        ("quadratic", 0.2520325, 1.437451, 0.1505898),
    ],
)
def test_cohen_matches_irr_anxiety(weights: str | None, kappa: float, z: float, p: float) -> None:
    frame = pd.read_csv(validation_file("kappa_cohen", "anxiety.csv"))
    result = cohen_kappa(frame.rater2, frame.rater3, weights=weights)
    assert result.kappa == pytest.approx(kappa, rel=5e-7)
    assert result.statistic == pytest.approx(z, rel=5e-6)
    assert result.pvalue == pytest.approx(p, rel=5e-7)


def test_categories_argument_changes_spacing() -> None:
    frame = pd.read_csv(validation_file("kappa_cohen", "anxiety.csv"))
    spaced = cohen_kappa(
        frame.rater2, frame.rater3, weights="linear", categories=[1, 2, 3, 4, 5, 6]
    )
    assert spaced.kappa != pytest.approx(0.1459075, abs=1e-4)
    with pytest.raises(ValueError, match="not in categories"):
        cohen_kappa(frame.rater2, frame.rater3, categories=[1, 2, 3])


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.sampled_from(["normal", "ivh", "pvl"]), min_size=3, max_size=30).filter(
        lambda v: len(set(v)) > 1
    )
)
def test_identical_raters_have_kappa_one(labels: list[str]) -> None:
    assert cohen_kappa(labels, labels).kappa == pytest.approx(1.0)
    assert cohen_kappa(labels, labels, weights="quadratic").kappa == pytest.approx(1.0)
    ratings = np.array([labels, labels, labels]).T
    assert fleiss_kappa(ratings, n_resamples=20).kappa == pytest.approx(1.0)


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError, match="NaN"):
        fleiss_kappa(np.array([[1.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="subjects x raters"):
        fleiss_kappa(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="weights"):
        cohen_kappa([1, 2], [1, 2], weights="cubic")
    with pytest.raises(ValueError, match="differ in length"):
        cohen_kappa([1, 2], [1])


def test_fleiss_bootstrap_agrees_with_jackknife_and_a_plain_resampling_loop() -> None:
    # Two checks written here, independent of the scipy.stats.bootstrap call behind the CI:
    # the jackknife SE (leave one subject out, statsmodels' kappa each time) and a plain
    # numpy loop that resamples subjects and takes percentiles.
    from statsmodels.stats import inter_rater

    ratings = pd.read_csv(validation_file("kappa_fleiss_diagnoses", "diagnoses.csv"))
    labels = ratings.drop(columns="subject").to_numpy()
    result = fleiss_kappa(labels, n_resamples=4000, seed=3)
    subjects = labels.shape[0]

    def kappa(rows: np.ndarray) -> float:
        counts, _ = inter_rater.aggregate_raters(rows, n_cat=6)
        return float(inter_rater.fleiss_kappa(counts))

    leave_one_out = np.array([kappa(np.delete(labels, i, axis=0)) for i in range(subjects)])
    jackknife_se = np.sqrt(
        (subjects - 1) / subjects * np.sum((leave_one_out - leave_one_out.mean()) ** 2)
    )
    assert result.se == pytest.approx(jackknife_se, rel=0.15)
    rng = np.random.default_rng(2024)
    loop = [kappa(labels[rng.integers(0, subjects, subjects)]) for _ in range(1500)]
    low, high = np.quantile(loop, [0.025, 0.975])
    assert result.ci.low == pytest.approx(low, abs=0.02)
    assert result.ci.high == pytest.approx(high, abs=0.02)
    assert "scipy.stats.bootstrap" in result.ci.method


def test_fleiss_bootstrap_leaves_out_resamples_without_a_kappa() -> None:
    # Three subjects, two categories: many resamples hold one category only (kappa 0/0).
    ratings = np.array([["a", "a", "a"], ["a", "a", "a"], ["b", "b", "b"]])
    result = fleiss_kappa(ratings, n_resamples=200)
    assert result.kappa == pytest.approx(1.0)
    assert (result.ci.low, result.ci.high) == (pytest.approx(1.0), pytest.approx(1.0))
    assert "left out" in result.ci.method
