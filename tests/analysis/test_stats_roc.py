"""ROC AUC and DeLong tests against pROC's published test values and slow definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from analysis.stats import delong_test, delong_test_mean, delong_test_unpaired, roc_auc
from tests.analysis.validation import validation_file


@pytest.fixture(scope="module")
def asah() -> pd.DataFrame:
    frame = pd.read_csv(validation_file("proc_asah", "aSAH.csv"))
    frame["poor"] = (frame["outcome"] == "Poor").astype(int)
    return frame


# pROC tests/testthat/test-var.R (xrobin/pROC): var(r.wfns) etc., DeLong variance.
@pytest.mark.parametrize(
    ("marker", "variance"),
    [("wfns", 0.00146991470882363), ("ndka", 0.0031908105493913), ("s100b", 0.00266868245717244)],
)
def test_delong_variance_matches_proc(asah: pd.DataFrame, marker: str, variance: float) -> None:
    result = roc_auc(asah["poor"], asah[marker])
    assert result.variance == pytest.approx(variance, rel=1e-10)


# pROC documentation (print of roc()/ci()): AUC 0.8237 (wfns), 0.7314 (s100b), 0.6120 (ndka);
# s100b "95% CI: 0.6301-0.8326 (DeLong)".
def test_auc_values_match_proc(asah: pd.DataFrame) -> None:
    assert roc_auc(asah["poor"], asah["wfns"]).auc == pytest.approx(0.8237, abs=5e-5)
    assert roc_auc(asah["poor"], asah["ndka"]).auc == pytest.approx(0.6120, abs=5e-5)
    s100b = roc_auc(asah["poor"], asah["s100b"])
    assert s100b.auc == pytest.approx(0.7314, abs=5e-5)
    assert s100b.ci.low == pytest.approx(0.6301, abs=5e-5)
    assert s100b.ci.high == pytest.approx(0.8326, abs=5e-5)
    assert s100b.ci.method == "DeLong"


# pROC tests/testthat/test-roc.test.R: roc.test(r.wfns, r.s100b), (r.wfns, r.ndka), (r.ndka, r.s100b).
@pytest.mark.parametrize(
    ("a", "b", "z", "p", "ci"),
    [
        (
            "wfns",
            "s100b",
            2.20898359144091,
            0.0271757822291882,
            (0.0104061769564846, 0.174214419249478),
        ),
        (
            "wfns",
            "ndka",
            2.79777591868904,
            0.00514557970691098,
            (0.0634011709339876, 0.3600405634833566),
        ),
        ("ndka", "s100b", -1.39077002573558, 0.164295175223054, None),
    ],
)
def test_paired_delong_matches_proc(
    asah: pd.DataFrame, a: str, b: str, z: float, p: float, ci: tuple[float, float] | None
) -> None:
    result = delong_test(asah["poor"], asah[a], asah[b])
    assert result.statistic == pytest.approx(z, rel=1e-9)
    assert result.pvalue == pytest.approx(p, rel=1e-9)
    if ci is not None:
        assert result.ci is not None
        assert (result.ci.low, result.ci.high) == pytest.approx(ci, rel=1e-9)


def test_one_sided_delong_keeps_two_sided_ci(asah: pd.DataFrame) -> None:
    two = delong_test(asah["poor"], asah["wfns"], asah["s100b"])
    greater = delong_test(asah["poor"], asah["wfns"], asah["s100b"], alternative="greater")
    assert greater.pvalue == pytest.approx(two.pvalue / 2)
    assert greater.ci == two.ci


# pROC tests/testthat/test-roc.test.R, "unpaired roc.test statistic and p are as expected".
@pytest.mark.parametrize(
    ("a", "b", "d", "p"),
    [
        ("wfns", "s100b", 1.43490640926908, 0.152825378808796),
        ("wfns", "ndka", 3.10125096778969, 0.00220950791756457),
    ],
)
def test_unpaired_delong_matches_proc(
    asah: pd.DataFrame, a: str, b: str, d: float, p: float
) -> None:
    result = delong_test_unpaired(asah["poor"], asah[a], asah["poor"], asah[b])
    assert result.statistic == pytest.approx(d, rel=1e-9)
    assert result.pvalue == pytest.approx(p, rel=1e-9)
    assert result.df is not None and result.df > 100


def _slow_placements(y: np.ndarray, s: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """O(n²) Mann–Whitney kernel: the definition of AUC and DeLong's placements."""
    pos, neg = s[y == 1], s[y == 0]
    psi = np.array([[1.0 if p > q else 0.5 if p == q else 0.0 for q in neg] for p in pos])
    return float(psi.mean()), psi.mean(axis=1), psi.mean(axis=0)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.integers(0, 6)), min_size=4, max_size=40).filter(
        lambda rows: 0 < sum(r[0] for r in rows) < len(rows) - 1 and sum(r[0] for r in rows) > 1
    )
)
def test_fast_delong_equals_slow_definition(rows: list[tuple[bool, int]]) -> None:
    y = np.array([r[0] for r in rows], dtype=int)
    s = np.array([r[1] for r in rows], dtype=float)
    auc, v10, v01 = _slow_placements(y, s)
    expected_var = np.var(v10, ddof=1) / v10.size + np.var(v01, ddof=1) / v01.size
    result = roc_auc(y, s)
    assert result.auc == pytest.approx(auc, abs=1e-12)
    assert result.variance == pytest.approx(expected_var, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_auc_invariant_to_monotone_transform_and_label_flip(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(8, int), np.zeros(9, int)]
    s = rng.integers(0, 5, size=y.size).astype(float)
    base = roc_auc(y, s)
    transformed = roc_auc(y, np.exp(s) * 3 + 1)
    assert transformed.auc == pytest.approx(base.auc)
    assert transformed.variance == pytest.approx(base.variance)
    flipped = roc_auc(1 - y, s)
    assert flipped.auc == pytest.approx(1 - base.auc)
    assert flipped.variance == pytest.approx(base.variance)


def test_ties_count_half() -> None:
    assert roc_auc([1, 0], [1.0, 1.0]).auc == 0.5
    assert roc_auc([1, 0, 1, 0], [2.0, 1.0, 1.0, 0.0]).auc == pytest.approx(0.875)


def test_matches_mann_whitney_u_from_scipy() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    s = rng.normal(size=300) + y
    u = stats.mannwhitneyu(s[y == 1], s[y == 0]).statistic
    assert roc_auc(y, s).auc == pytest.approx(u / (y.sum() * (300 - y.sum())))


@pytest.mark.parametrize(
    ("y", "s", "message"),
    [
        ([1, 1, 1], [0.1, 0.2, 0.3], "one class"),
        ([1, 0, 1], [0.1, np.nan, 0.3], "NaN"),
        ([1, 0], [0.1, 0.2, 0.3], "differ in length"),
        ([1, 2, 0], [0.1, 0.2, 0.3], "only 0 and 1"),
    ],
)
def test_invalid_inputs_raise(y: list[int], s: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        roc_auc(y, s)


def test_delong_test_rejects_bad_alternative(asah: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="alternative"):
        delong_test(asah["poor"], asah["wfns"], asah["ndka"], alternative="bigger")


def test_paired_delong_matches_proc_documentation_example(asah: pd.DataFrame) -> None:
    # pROC's own documentation (man/roc.test.Rd, "Basic example with 2 roc objects"):
    # roc1 <- roc(aSAH$outcome, aSAH$s100b); roc2 <- roc(aSAH$outcome, aSAH$wfns);
    # roc.test(roc1, roc2) prints "Z = -2.209, p-value = 0.02718" (DeLong, paired).
    result = delong_test(asah["poor"], asah["s100b"], asah["wfns"])
    assert round(result.statistic, 3) == -2.209
    assert round(result.pvalue, 5) == 0.02718
    assert result.estimate == pytest.approx(0.7314 - 0.8237, abs=1e-4)


def test_mean_of_one_reader_is_the_paired_test(asah: pd.DataFrame) -> None:
    one = delong_test_mean(asah["poor"], asah[["ndka"]].to_numpy().T, asah["s100b"])
    # pROC tests/testthat/test-roc.test.R: roc.test(r.ndka, r.s100b) Z = -1.39077002573558.
    assert one.statistic == pytest.approx(-1.39077002573558, rel=1e-9)
    assert one.pvalue == pytest.approx(0.164295175223054, rel=1e-9)


def test_mean_of_readers_against_a_model_equals_the_slow_definition(asah: pd.DataFrame) -> None:
    # The mean of two AUCs has placements mean(V_a, V_b); its difference from a third
    # AUC has placements mean(V_a, V_b) − V_c and DeLong's variance from them.
    y = asah["poor"].to_numpy()
    a, b, c = (asah[m].to_numpy(dtype=float) for m in ("ndka", "wfns", "s100b"))
    parts = [_slow_placements(y, s) for s in (a, b, c)]
    d10 = (parts[0][1] + parts[1][1]) / 2 - parts[2][1]
    d01 = (parts[0][2] + parts[1][2]) / 2 - parts[2][2]
    diff = (parts[0][0] + parts[1][0]) / 2 - parts[2][0]
    z = diff / np.sqrt(np.var(d10, ddof=1) / d10.size + np.var(d01, ddof=1) / d01.size)
    result = delong_test_mean(y, np.vstack([a, b]), c)
    assert result.estimate == pytest.approx(diff, abs=1e-12)
    assert result.statistic == pytest.approx(z, rel=1e-10)
    assert result.pvalue == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-10)
