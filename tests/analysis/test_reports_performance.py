"""Diagnostic performance (Table 2): the numbers follow from analysis.stats and the reads."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.frames import group_reads, rating_matrix
from analysis.reports import Report, run_report
from analysis.simulation import SimulationConfig, simulate_study
from analysis.stats import binary_metrics, roc_auc, wilcoxon_signed_rank

CONFIG = SimulationConfig(
    datasets=(("internal", 70), ("external", 90)),
    n_junior=5,
    n_mid=4,
    n_senior=2,
    blind_sweep_cases=10,
    prevalence=0.3,
    seed=11,
)


@pytest.fixture(scope="module")
def data():
    return simulate_study(CONFIG)


@pytest.fixture(scope="module")
def report(data) -> Report:
    return run_report("performance", data, n_resamples=300)


def _row(report: Report, dataset: str, group: str, metric: str):
    frame = report.table("table2").frame
    return frame[
        (frame["dataset"] == dataset) & (frame["group"] == group) & (frame["metric"] == metric)
    ].iloc[0]


def test_ai_row_is_the_statistics_library(data, report) -> None:
    ai = group_reads(data.reads, "ai", "external").sort_values("case")
    metrics = binary_metrics(ai["truth"], ai["decision"], n_resamples=300)
    for name in ("sensitivity", "specificity", "ppv", "npv", "f1"):
        row = _row(report, "external", "ai", name)
        estimate = getattr(metrics, name)
        assert row["estimate"] == estimate.value
        assert (row["ci_low"], row["ci_high"]) == (estimate.ci.low, estimate.ci.high)
    auc = roc_auc(ai["truth"], ai["rating"])
    row = _row(report, "external", "ai", "auc")
    assert (row["estimate"], row["ci_low"], row["ci_high"]) == (auc.auc, auc.ci.low, auc.ci.high)


def test_group_means_are_means_of_reader_values(data, report) -> None:
    per_reader = report.table("per_reader").frame
    for group in ("junior", "mid_level", "junior_ai"):
        readers = per_reader[(per_reader["dataset"] == "internal") & (per_reader["group"] == group)]
        for metric in ("sensitivity", "specificity", "ppv", "npv", "f1", "auc"):
            row = _row(report, "internal", group, metric)
            assert row["estimate"] == pytest.approx(readers[metric].mean(), abs=1e-12)
            assert row["ci_low"] <= row["estimate"] <= row["ci_high"]
            assert row["readers"] == len(readers)


def test_per_reader_table_matches_the_library(data, report) -> None:
    rows = group_reads(data.reads, "junior", "internal")
    reader = sorted(rows["reader"].unique())[0]
    mine = rows[rows["reader"] == reader].sort_values("case")
    metrics = binary_metrics(mine["truth"], mine["decision"])
    table = report.table("per_reader").frame
    row = table[
        (table["reader"] == reader)
        & (table["group"] == "junior")
        & (table["dataset"] == "internal")
    ].iloc[0]
    for name in ("sensitivity", "specificity", "ppv", "npv"):
        estimate = getattr(metrics, name)
        assert row[name] == pytest.approx(estimate.value, abs=1e-15)
        assert row[f"{name}_low"] == pytest.approx(estimate.ci.low, abs=1e-9)
        assert row[f"{name}_high"] == pytest.approx(estimate.ci.high, abs=1e-9)
    assert row["f1"] == pytest.approx(metrics.f1.value)
    assert row["auc"] == roc_auc(mine["truth"], mine["rating"]).auc


def test_delta_auc_is_the_paired_wilcoxon_of_reader_differences(data, report) -> None:
    delta = report.table("delta_auc").frame
    row = delta[delta["dataset"] == "internal"].iloc[0]
    unaided, truth, readers, _ = rating_matrix(group_reads(data.reads, "junior", "internal"))
    aided, _, _, _ = rating_matrix(group_reads(data.reads, "junior_ai", "internal"))
    diff = np.array(
        [roc_auc(truth, a).auc - roc_auc(truth, u).auc for a, u in zip(aided, unaided, strict=True)]
    )
    test = wilcoxon_signed_rank(diff, alternative="greater")
    assert row["mean_delta"] == pytest.approx(diff.mean(), abs=1e-12)
    assert row["wilcoxon_v"] == test.statistic and row["pvalue_one_sided"] == test.pvalue
    assert row["readers"] == len(readers) == 5


def test_every_table_states_methods_n_and_snapshot(data, report) -> None:
    assert report.snapshot == data.snapshot
    for table in report.tables:
        assert table.methods and table.n


def _slow_placements(truth: np.ndarray, scores: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """DeLong's structural components by their definition (O(m·n) pair loops)."""
    pos, neg = scores[truth == 1], scores[truth == 0]
    psi = np.array([[1.0 if p > q else 0.5 if p == q else 0.0 for q in neg] for p in pos])
    return float(psi.mean()), psi.mean(axis=1), psi.mean(axis=0)


def _slow_paired_z(
    truth: np.ndarray, readers: np.ndarray, model: np.ndarray
) -> tuple[float, float]:
    """Mean reader AUC − model AUC and its Z from brute-force placements.

    The mean of several AUCs is the AUC-like U-statistic whose placements are the mean of
    the readers' placements, so the difference has placements mean(V_r) − V_model and
    DeLong's variance var(V10)/m + var(V01)/n (DeLong et al. 1988)."""
    parts = [_slow_placements(truth, row) for row in readers]
    model_auc, m10, m01 = _slow_placements(truth, model)
    d10 = np.mean([p[1] for p in parts], axis=0) - m10
    d01 = np.mean([p[2] for p in parts], axis=0) - m01
    diff = float(np.mean([p[0] for p in parts]) - model_auc)
    variance = np.var(d10, ddof=1) / d10.size + np.var(d01, ddof=1) / d01.size
    return diff, diff / np.sqrt(variance)


def test_paired_delong_against_the_ai_equals_the_slow_definition(data, report) -> None:
    table = report.table("delong_vs_ai").frame
    assert set(table["group"]) == {"junior", "mid_level", "junior_ai"}
    ai = group_reads(data.reads, "ai", "external").set_index("case")["rating"]
    for group in ("junior", "mid_level"):
        ratings, truth, readers, cases = rating_matrix(group_reads(data.reads, group, "external"))
        model = ai.reindex(cases).to_numpy(dtype=float)
        rows = table[(table["dataset"] == "external") & (table["group"] == group)].set_index(
            "reader"
        )
        assert len(rows) == len(readers) + 1
        for reader, scores in zip(readers, ratings, strict=True):
            diff, z = _slow_paired_z(truth, scores[None, :], model)
            assert rows.loc[reader, "difference"] == pytest.approx(diff, abs=1e-12)
            assert rows.loc[reader, "z"] == pytest.approx(z, rel=1e-9)
            assert rows.loc[reader, "pvalue"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)
        diff, z = _slow_paired_z(truth, ratings, model)
        mean = rows.loc["mean of readers"]
        assert mean["readers"] == len(readers) and mean["cases"] == len(cases)
        assert mean["difference"] == pytest.approx(diff, abs=1e-12)
        assert mean["z"] == pytest.approx(z, rel=1e-9)
        assert mean["ci_low"] < mean["difference"] < mean["ci_high"]


def test_round_trip_through_json_is_exact(report) -> None:
    back = Report.from_dict(report.to_dict())
    for table in report.tables:
        got = back.table(table.name).frame
        assert list(got.columns) == list(table.frame.columns)
        np.testing.assert_array_equal(
            got.select_dtypes("number").to_numpy(), table.frame.select_dtypes("number").to_numpy()
        )
