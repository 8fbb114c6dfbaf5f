"""Blinded trial, agreement, errors, qualitative, subgroups, ROC and MRMC reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.frames import group_reads, rating_matrix
from analysis.reports import REPORTS, run_report
from analysis.simulation import SimulationConfig, simulate_study
from analysis.stats import (
    bang_blinding_index,
    benjamini_hochberg,
    chi_square,
    fleiss_kappa,
    mrmc_or,
    paired_t,
    roc_curve_points,
    welch_t,
)

CONFIG = SimulationConfig(
    datasets=(("internal", 60), ("external", 80)),
    n_junior=6,
    n_mid=3,
    n_senior=3,
    blind_sweep_cases=20,
    prevalence=0.3,
    unblinding=0.3,
    seed=21,
)


@pytest.fixture(scope="module")
def data():
    return simulate_study(CONFIG)


@pytest.fixture(scope="module")
def reports(data) -> dict:
    return {key: run_report(key, data, n_resamples=300) for key in REPORTS}


def test_every_report_has_tables_with_methods_n_and_snapshot(data, reports) -> None:
    for key, report in reports.items():
        assert report.key == key and report.snapshot == data.snapshot
        assert report.tables and report.figures, key
        for table in report.tables:
            assert table.methods and table.n, (key, table.name)


def test_blinding_indices_follow_the_guess_table(data, reports) -> None:
    trial = data.blinded
    table = pd.crosstab(trial["arm"], trial["guess"]).reindex(
        index=["ai", "junior"], columns=["ai", "junior", "dont_know"], fill_value=0
    )
    expected = bang_blinding_index(table.to_numpy(), n_resamples=300, seed=0)
    frame = reports["blinded"].table("blinding").frame
    bang = frame[frame["index"] == "Bang"]
    assert bang["estimate"].tolist() == [r.estimate for r in expected]
    assert bang["boot_low"].tolist() == [
        r.bootstrap_ci.low if r.bootstrap_ci else None for r in expected
    ]
    # Don't-know answers stay in the denominator.
    ai = table.loc["ai"]
    assert bang.iloc[0]["estimate"] == pytest.approx((ai["ai"] - ai["junior"]) / ai.sum())
    guesses = reports["blinded"].table("guesses").frame
    assert guesses["guess_dont_know"].tolist() == table["dont_know"].tolist()


def test_change_rates_chi_square_and_read_time(data, reports) -> None:
    trial = data.blinded
    changes = reports["blinded"].table("changes").frame.set_index("row")
    rates = trial.groupby("arm")["changed"].mean()
    assert changes.loc["ai", "rate"] == pytest.approx(rates["ai"])
    assert changes.loc["junior", "rate"] == pytest.approx(rates["junior"])
    k = trial.groupby("arm")["changed"].agg(["sum", "count"])
    test = chi_square(
        [[k.loc[a, "sum"], k.loc[a, "count"] - k.loc[a, "sum"]] for a in ("ai", "junior")]
    )
    assert changes.iloc[2]["chi2"] == pytest.approx(test.statistic)
    times = reports["blinded"].table("read_time").frame
    expected = welch_t(
        trial.loc[trial["arm"] == "junior", "read_time_s"],
        trial.loc[trial["arm"] == "ai", "read_time_s"],
        alternative="greater",
    )
    assert times["pvalue_one_sided"].iloc[0] == pytest.approx(expected.pvalue)


def test_fleiss_with_and_without_ai(data, reports) -> None:
    frame = reports["agreement"].table("fleiss").frame.set_index("group")
    decisions, *_ = rating_matrix(group_reads(data.reads, "junior_ai"), "decision")
    assert frame.loc["junior_ai", "kappa"] == pytest.approx(
        fleiss_kappa(decisions.T.astype(int)).kappa
    )
    cohen = reports["agreement"].table("cohen_vs_ai").frame
    assert len(cohen) == 6 + 6 + 3


def test_errors_by_condition_count_every_read(data, reports) -> None:
    frame = reports["errors"].table("by_condition").frame
    juniors = group_reads(data.reads, "junior")
    assert (frame["junior_severe"] + frame["junior_non_severe"]).sum() == len(juniors)
    assert frame["cases"].sum() == data.reads["case"].nunique()
    help_table = reports["errors"].table("ai_help").frame.set_index("condition")
    aided = group_reads(data.reads, "junior_ai").set_index(["reader", "case"])["decision"]
    alone = juniors.set_index(["reader", "case"])
    right_alone = alone["decision"] == alone["truth"]
    right_aided = aided.reindex(alone.index) == alone["truth"]
    assert help_table.loc["total", "corrected"] == int((~right_alone & right_aided).sum())
    assert help_table.loc["total", "wrongly_changed"] == int((right_alone & ~right_aided).sum())


def test_qualitative_paired_t(data, reports) -> None:
    scores = data.qualitative
    wide = scores[scores["criterion"] == "clinical_value"].pivot(
        index="case", columns="rater", values="score"
    )
    expected = paired_t(wide["R1"], wide["R2"])
    frame = reports["qualitative"].table("paired_t").frame.set_index("criterion")
    assert frame.loc["clinical_value", "pvalue"] == pytest.approx(expected.pvalue)
    means = reports["qualitative"].table("means").frame
    assert len(means) == 8


def test_subgroup_tests_are_bh_adjusted(reports) -> None:
    tests = reports["subgroups"].table("tests").frame
    assert len(tests) > 0
    _, adjusted = benjamini_hochberg(tests["pvalue"].to_numpy())
    np.testing.assert_allclose(tests["pvalue_bh"], adjusted)


def test_roc_points_reach_the_corners(data, reports) -> None:
    fpr, tpr, _ = roc_curve_points(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    assert fpr.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0] and tpr.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    curve = reports["roc"].table("ai_roc").frame
    for _, part in curve.groupby("dataset"):
        assert part["fpr"].iloc[-1] == 1.0 and part["tpr"].iloc[-1] == 1.0
    points = reports["roc"].table("operating_points").frame
    assert len(points) == 2 * (6 + 3 + 6 + 1)


def test_mrmc_matches_a_direct_call(data, reports) -> None:
    juniors = data.reads[data.reads["tier"] == "junior"].loc[
        :, ["reader", "modality", "case", "truth", "rating"]
    ]
    direct = mrmc_or(juniors)
    row = reports["mrmc"].table("or").frame.iloc[0]
    assert row["F"] == direct.statistic and row["df_den"] == direct.df_den
    assert row["difference"] == pytest.approx(row["with_ai"] - row["alone"])
    dbm = reports["mrmc"].table("or").frame.set_index("endpoint").loc["auc (DBM)"]
    assert dbm["F"] == pytest.approx(direct.statistic, rel=1e-9)  # DBM = OR jackknife (Hillis 2005)
    size = reports["mrmc"].table("sample_size").frame
    assert list(size["readers"]) == [3, 5, 8, 10, 15, 20]
    assert size["cases"].dropna().is_monotonic_decreasing


def test_blinded_report_without_trial_data_says_so() -> None:
    data = simulate_study(
        SimulationConfig(
            datasets=(("internal", 30),),
            n_junior=2,
            n_mid=2,
            n_senior=0,
            blind_sweep_cases=0,
            prevalence=0.4,
        )
    )
    report = run_report("blinded", data, n_resamples=50)
    assert not report.tables and report.notes
    assert not run_report("qualitative", data).tables
