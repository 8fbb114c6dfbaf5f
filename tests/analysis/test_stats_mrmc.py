"""OR / DBM MRMC analysis against MRMCaov's published Van Dyke output and brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from analysis.stats import (
    hillis_ddf,
    mrmc_dbm,
    mrmc_model_vs_readers,
    mrmc_or,
    mrmc_sample_size,
)
from tests.analysis.validation import validation_file

# Expected values: Smith BJ, Hillis SL, MRMCaov JSS manuscript (brian-j-smith/MRMCaov,
# docs/jss/MRMCaov.tex), summary(mrmc(empirical_auc(truth, rating), treatment, reader,
# case, data = VanDyke, cov = ...)), printed to 7 significant digits.  The jackknife
# components are those printed for fixed readers (same covariance estimate); the
# jackknife RRRC F, df and p agree with the Iowa OR-DBM MRMC output quoted in RJafroc
# (F = 4.46, ddf = 15.26, p = 0.0517).
SIG = 5e-7


@pytest.fixture(scope="module")
def vandyke() -> pd.DataFrame:
    frame = pd.read_csv(validation_file("mrmc_vandyke", "VanDyke_long.csv"))
    return frame.rename(columns={"treatment": "modality"})[
        ["reader", "modality", "case", "truth", "rating"]
    ]


def test_jackknife_rrrc(vandyke: pd.DataFrame) -> None:
    result = mrmc_or(vandyke)
    assert result.auc[1] == pytest.approx(0.8970370, rel=SIG)
    assert result.auc[2] == pytest.approx(0.9408374, rel=SIG)
    assert result.difference == pytest.approx(-0.04380032, rel=SIG)
    assert result.var_r == pytest.approx(0.0015349993, rel=SIG)
    assert result.var_tr == pytest.approx(0.0002004025, rel=SIG)
    assert result.var_error == pytest.approx(0.0008022883, rel=SIG)
    assert result.cov1 == pytest.approx(0.0003466137, rel=SIG)
    assert result.cov2 == pytest.approx(0.0003440748, rel=SIG)
    assert result.cov3 == pytest.approx(0.0002390284, rel=SIG)
    assert result.ms_t == pytest.approx(0.004796171, rel=SIG)
    assert result.ms_tr == pytest.approx(0.0005510306, rel=SIG)
    assert result.statistic == pytest.approx(4.46, abs=5e-3)
    assert result.df_den == pytest.approx(15.26, abs=5e-3)
    assert result.pvalue == pytest.approx(0.0517, abs=5e-5)
    assert result.reader_auc.loc[1, 1] == pytest.approx(0.9196457, rel=SIG)
    assert result.reader_auc.loc[5, 2] == pytest.approx(0.9299517, rel=SIG)


@pytest.mark.parametrize(
    ("covariance", "expected"),
    [
        (
            "delong",
            {
                "var_r": 0.0015364254,
                "var_tr": 0.0002045840,
                "var_error": 0.0007921325,
                "cov1": 0.0003420090,
                "cov2": 0.0003395265,
                "cov3": 0.0002358497,
                "statistic": 4.484854,
                "df_den": 15.06611,
                "pvalue": 0.05123303,
                "ci": (-0.0878671960, 0.0002665519),
            },
        ),
        (
            "unbiased",
            {
                "var_r": 0.0015365290,
                "var_tr": 0.0002077588,
                "var_error": 0.0007883925,
                "cov1": 0.0003416706,
                "cov2": 0.0003390650,
                "cov3": 0.0002356148,
                "statistic": 4.489614,
                "df_den": 15.03418,
                "pvalue": 0.0511618,
                "ci": (-0.0878519409, 0.0002512968),
            },
        ),
    ],
)
def test_delong_and_unbiased_rrrc(vandyke: pd.DataFrame, covariance: str, expected: dict) -> None:
    result = mrmc_or(vandyke, covariance=covariance)
    for name in (
        "var_r",
        "var_tr",
        "var_error",
        "cov1",
        "cov2",
        "cov3",
        "statistic",
        "df_den",
        "pvalue",
    ):
        assert getattr(result, name) == pytest.approx(expected[name], rel=SIG), name
    assert (result.ci.low, result.ci.high) == pytest.approx(expected["ci"], rel=1e-6)


def test_fixed_readers_and_fixed_cases(vandyke: pd.DataFrame) -> None:
    frrc = mrmc_or(vandyke, readers="fixed")
    assert frrc.statistic == pytest.approx(5.475953, rel=SIG)
    assert frrc.df_den is None
    assert frrc.pvalue == pytest.approx(0.01927984, rel=SIG)
    assert (frrc.ci.low, frrc.ci.high) == pytest.approx((-0.08048591, -0.00711473), rel=SIG)
    rrfc = mrmc_or(vandyke, cases="fixed")
    assert rrfc.statistic == pytest.approx(8.704, rel=SIG)
    assert rrfc.df_den == 4
    assert rrfc.pvalue == pytest.approx(0.04195875, rel=SIG)
    assert (rrfc.ci.low, rrfc.ci.high) == pytest.approx((-0.08502022, -0.00258042), rel=SIG)


def test_binary_sensitivity_endpoint(vandyke: pd.DataFrame) -> None:
    # MRMCaov JSS: binary_sens(truth, rating >= 3), jackknife over the 45 diseased cases.
    result = mrmc_or(vandyke, endpoint="sensitivity", threshold=3)
    assert result.auc[1] == pytest.approx(0.8222222, rel=SIG)
    assert result.auc[2] == pytest.approx(0.92, rel=SIG)
    assert result.n_cases == 45
    assert result.var_error == pytest.approx(0.0023681257, rel=SIG)
    assert result.cov1 == pytest.approx(0.0009943883, rel=SIG)
    assert result.cov2 == pytest.approx(0.0010145903, rel=SIG)
    assert result.cov3 == pytest.approx(0.0006604938, rel=SIG)
    assert result.statistic == pytest.approx(6.689493, rel=SIG)
    assert result.df_den == pytest.approx(15.71732, rel=SIG)
    assert result.pvalue == pytest.approx(0.02008822, rel=SIG)
    assert (result.ci.low, result.ci.high) == pytest.approx((-0.1780371, -0.0175185), rel=SIG)


def _slow_auc(truth: np.ndarray, scores: np.ndarray) -> float:
    """Mann–Whitney definition: mean over positive x negative pairs of 1 / ½ / 0."""
    diff = scores[truth == 1][:, None] - scores[truth == 0][None, :]
    return float(np.mean((diff > 0) + 0.5 * (diff == 0)))


def test_jackknife_equals_brute_force(vandyke: pd.DataFrame) -> None:
    # Slow definition: recompute every reader AUC with each case left out.
    cube = vandyke.pivot_table(index=["modality", "reader"], columns="case", values="rating")
    truth = vandyke.groupby("case")["truth"].first().loc[cube.columns].to_numpy()
    rows = cube.to_numpy()
    cases = rows.shape[1]
    leave = np.empty((rows.shape[0], cases))
    for c in range(cases):
        keep = np.arange(cases) != c
        leave[:, c] = [_slow_auc(truth[keep], row[keep]) for row in rows]
    centred = leave - leave.mean(axis=1, keepdims=True)
    cov = (cases - 1) / cases * centred @ centred.T
    result = mrmc_or(vandyke)
    assert result.var_error == pytest.approx(np.mean(np.diag(cov)), rel=1e-10)
    # rows are ordered modality-major: reader r in modality 1 is row r, in 2 row 5 + r.
    cov1 = np.mean([cov[r, 5 + r] for r in range(5)])
    assert result.cov1 == pytest.approx(cov1, rel=1e-10)


# JAFROC 4.2.1 on Van Dyke (RJafroc repository, inst/JAFROC/VanDykeROC.txt): the treatment
# x reader x case ANOVA of the jackknife pseudovalues.  JAFROC computes in single
# precision (its own two printings of the second treatment mean differ in the 7th digit),
# so the mean squares agree to ~2e-6 relative.
JAFROC_DBM_MS = {
    "ms_t": 0.54676316,
    "ms_r": 0.43732679,
    "ms_c": 0.39686891,
    "ms_tr": 0.06281753,
    "ms_tc": 0.09984813,
    "ms_rc": 0.06450099,
    "ms_trc": 0.03997167,
}


def test_dbm_mean_squares_match_jafroc(vandyke: pd.DataFrame) -> None:
    dbm = mrmc_dbm(vandyke)
    for name, value in JAFROC_DBM_MS.items():
        assert getattr(dbm, name) == pytest.approx(value, rel=5e-6), name
    # Analysis 1 (RRRC): F(1, 15.26) = 4.46, p = 0.0517, CI (-0.08796, 0.00036).
    assert dbm.df_den is not None
    assert round(dbm.statistic, 2) == 4.46 and round(dbm.df_den, 2) == 15.26
    assert round(dbm.pvalue, 4) == 0.0517
    assert (round(dbm.ci.low, 5), round(dbm.ci.high, 5)) == (-0.08796, 0.00036)
    # Analysis 2 (FRRC): error term MS(TC), F(1, 113) = 5.48, p = 0.0210, CI (-0.08088, -0.00672).
    frrc = mrmc_dbm(vandyke, readers="fixed")
    assert round(frrc.statistic, 2) == 5.48 and frrc.df_den == 113
    assert round(frrc.pvalue, 4) == 0.0210
    assert (round(frrc.ci.low, 5), round(frrc.ci.high, 5)) == (-0.08088, -0.00672)
    # Analysis 3 (RRFC): error term MS(TR), F(1, 4) = 8.70, p = 0.0420.
    rrfc = mrmc_dbm(vandyke, cases="fixed")
    assert round(rrfc.statistic, 2) == 8.70 and round(rrfc.pvalue, 4) == 0.0420


def test_dbm_equals_or_jackknife(vandyke: pd.DataFrame) -> None:
    # Hillis et al. 2005: DBM with Hillis ddf equals OR with jackknife covariance.
    dbm = mrmc_dbm(vandyke)
    orr = mrmc_or(vandyke)
    assert dbm.statistic == pytest.approx(orr.statistic, rel=1e-9)
    assert dbm.df_den == pytest.approx(orr.df_den, rel=1e-9)
    assert dbm.pvalue == pytest.approx(orr.pvalue, rel=1e-9)
    assert (dbm.ci.low, dbm.ci.high) == pytest.approx((orr.ci.low, orr.ci.high), rel=1e-9)


@pytest.fixture(scope="module")
def franken() -> pd.DataFrame:
    frame = pd.read_csv(validation_file("mrmc_franken", "Franken_long.csv"))
    return frame.rename(columns={"treatment": "modality"})


def test_franken_matches_iowa_or_dbm_mrmc(franken: pd.DataFrame) -> None:
    # OR-DBM MRMC 2.51 (Iowa), "Franken1 trap area jackknife anova", as kept in RJafroc's
    # tests (tests/testthat/goodValues361/Iowa/Franken1.txt), printed to 8 decimals.
    # Var(T*R) < 0 and Cov2 < Cov3: the Hillis error term is MS(T*R) alone, ddf = 3.
    result = mrmc_or(franken)
    assert result.auc[1] == pytest.approx(0.84774989, abs=5e-9)
    assert result.auc[2] == pytest.approx(0.83689507, abs=5e-9)
    assert result.difference == pytest.approx(0.01085482, abs=5e-9)
    assert result.reader_auc.loc[1, 1] == pytest.approx(0.85345997, abs=5e-9)
    assert result.reader_auc.loc[4, 2] == pytest.approx(0.81433740, abs=5e-9)
    printed = {
        "ms_t": 0.00023565,
        "ms_r": 0.00068406,
        "ms_tr": 0.00005020,
        "var_r": 0.00003776,
        "var_tr": -0.00071276,
        "cov1": 0.00079168,
        "cov2": 0.00048364,
        "cov3": 0.00051251,
        "var_error": 0.00152578,
    }
    for name, value in printed.items():
        assert getattr(result, name) == pytest.approx(value, abs=5e-9), name
    assert result.df_den is not None
    assert round(result.statistic, 2) == 4.69 and round(result.df_den, 2) == 3.00
    assert round(result.pvalue, 4) == 0.1188
    assert (round(result.ci.low, 5), round(result.ci.high, 5)) == (-0.00509, 0.02680)
    # Analysis 2 (fixed readers): X2 = 0.32101, p = 0.5710, CI (-0.02670, 0.04840).
    frrc = mrmc_or(franken, readers="fixed")
    assert round(frrc.statistic, 5) == 0.32101 and round(frrc.pvalue, 4) == 0.5710
    assert (round(frrc.ci.low, 5), round(frrc.ci.high, 5)) == (-0.02670, 0.04840)


def test_model_vs_readers_brute_force(vandyke: pd.DataFrame) -> None:
    one = vandyke[vandyke.modality == 2]
    rng = np.random.default_rng(0)
    model = one[one.reader == 1].set_index("case")["rating"] + rng.normal(0, 0.5, 114)
    result = mrmc_model_vs_readers(one, model)
    truth = one.groupby("case")["truth"].first()
    model_auc = roc_auc_score(truth.loc[model.index], model)
    assert result.model_auc == pytest.approx(model_auc)
    assert result.reader_mean_auc == pytest.approx(0.9408374, rel=SIG)
    assert result.difference == pytest.approx(model_auc - 0.9408374, abs=1e-6)
    assert result.ci.low < result.difference < result.ci.high
    assert result.df > 1
    with pytest.raises(ValueError, match="choose one"):
        mrmc_model_vs_readers(vandyke, model)


def test_sample_size_is_monotone(vandyke: pd.DataFrame) -> None:
    pilot = mrmc_or(vandyke)
    plan = mrmc_sample_size(pilot, effect=0.05, readers=[5, 8, 12]).table
    cases = plan["cases"].to_numpy()
    assert np.all(np.diff(cases) < 0)
    assert np.all(plan["power"] >= 0.8)
    bigger = mrmc_sample_size(pilot, effect=0.08, readers=[5]).table
    assert bigger["cases"].iloc[0] < cases[0]


def test_invalid_data(vandyke: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="lacks columns"):
        mrmc_or(vandyke.drop(columns="truth"))
    with pytest.raises(ValueError, match="not fully crossed"):
        mrmc_or(vandyke.iloc[1:])
    broken = vandyke.copy()
    broken.loc[0, "rating"] = np.nan
    with pytest.raises(ValueError, match="missing values"):
        mrmc_or(broken)
    with pytest.raises(ValueError, match="threshold"):
        mrmc_or(vandyke, endpoint="sensitivity")
    with pytest.raises(ValueError, match="covariance"):
        mrmc_or(vandyke, covariance="bootstrap")
    one_class = vandyke[vandyke.truth == 1]
    with pytest.raises(ValueError, match="one class"):
        mrmc_or(one_class)


def equal_gain_sensitivity() -> pd.DataFrame:
    """Four readers whose sensitivity rises by exactly 4/20 with the second modality.

    Every reader's difference is the same, so MS(T×R) = 0 and the reader-by-test variance
    estimate is not positive: Hillis' denominator df is infinite."""
    rng = np.random.default_rng(0)
    rows = []
    for r in range(4):
        false_positive = rng.random(20) < 0.2
        for modality in ("aided", "unaided"):
            hit = np.zeros(20, bool)
            hit[:8] = True
            hit[10 + r] = True
            if modality == "aided":
                hit[15:19] = True
            rows += [(f"R{r}", modality, f"P{c:02d}", 1, float(hit[c])) for c in range(20)]
            rows += [
                (f"R{r}", modality, f"N{c:02d}", 0, float(false_positive[c])) for c in range(20)
            ]
    return pd.DataFrame(rows, columns=["reader", "modality", "case", "truth", "rating"])


def test_zero_ms_tr_gives_an_infinite_hillis_df() -> None:
    # Hillis (2007): ddf = [MS(TR) + r·max(Cov2 − Cov3, 0)]² / {MS(TR)²/[(t−1)(r−1)]},
    # infinite when MS(TR) = 0; MRMCaov and RJafroc then report df = Inf, i.e. the F(1, ∞)
    # test, which is the χ²(1) test of F, with normal-quantile CIs.
    frame = equal_gain_sensitivity()
    result = mrmc_or(frame, endpoint="sensitivity", threshold=0.5)
    assert result.difference == pytest.approx(4 / 20)
    assert result.ms_tr < 1e-30
    assert result.df_den == np.inf
    assert "infinite" in result.method
    assert result.pvalue == pytest.approx(stats.chi2.sf(result.statistic, 1), rel=1e-12)
    half = stats.norm.ppf(0.975) * np.sqrt(2 * (result.ms_tr + 4 * (result.cov2 - result.cov3)) / 4)
    assert (result.ci.low, result.ci.high) == pytest.approx((0.2 - half, 0.2 + half), rel=1e-9)
    dbm = mrmc_dbm(frame, endpoint="sensitivity", threshold=0.5)
    assert dbm.df_den == np.inf and dbm.pvalue == pytest.approx(result.pvalue, rel=1e-9)


def test_hillis_ddf_treats_round_off_as_zero() -> None:
    # The demo's 5.8e59: MS(TR) left at ~1e-34 by round-off instead of 0.
    assert hillis_ddf(0.0125, 1e-34, 3) == np.inf
    assert hillis_ddf(0.0125, 0.0, 3) == np.inf
    assert hillis_ddf(0.1227, 0.0628, 4) == pytest.approx(0.1227**2 / (0.0628**2 / 4))
