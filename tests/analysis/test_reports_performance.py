"""Diagnostic performance (Table 2): the numbers follow from analysis.stats and the reads."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.frames import group_reads, rating_matrix
from analysis.reports import Report, run_report
from analysis.reports._common import clopper_pearson_many, per_reader_binary, two_way_binary_ci
from analysis.simulation import SimulationConfig, simulate_study
from analysis.stats import binary_metrics, clopper_pearson, roc_auc, wilcoxon_signed_rank

CONFIG = SimulationConfig(datasets=(("internal", 70), ("external", 90)), n_junior=5, n_mid=4, n_senior=2,
                          blind_sweep_cases=10, prevalence=0.3, seed=11)


@pytest.fixture(scope="module")
def data():
    return simulate_study(CONFIG)


@pytest.fixture(scope="module")
def report(data) -> Report:
    return run_report("performance", data, n_resamples=300)


def _row(report: Report, dataset: str, group: str, metric: str):
    frame = report.table("table2").frame
    return frame[(frame["dataset"] == dataset) & (frame["group"] == group) & (frame["metric"] == metric)].iloc[0]


def test_ai_row_is_the_statistics_library(data, report) -> None:
    ai = group_reads(data.reads, "ai", "external").sort_values("case")
    metrics = binary_metrics(ai["truth"], ai["decision"])
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
    row = table[(table["reader"] == reader) & (table["group"] == "junior") & (table["dataset"] == "internal")].iloc[0]
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
    diff = np.array([roc_auc(truth, a).auc - roc_auc(truth, u).auc for a, u in zip(aided, unaided, strict=True)])
    test = wilcoxon_signed_rank(diff, alternative="greater")
    assert row["mean_delta"] == pytest.approx(diff.mean(), abs=1e-12)
    assert row["wilcoxon_v"] == test.statistic and row["pvalue_one_sided"] == test.pvalue
    assert row["readers"] == len(readers) == 5


def test_every_table_states_methods_n_and_snapshot(data, report) -> None:
    assert report.snapshot == data.snapshot
    for table in report.tables:
        assert table.methods and table.n


def test_vectorised_helpers_agree_with_the_library() -> None:
    for k, n in ((0, 10), (3, 10), (10, 10), (17, 61)):
        ci = clopper_pearson(k, n)
        low, high = clopper_pearson_many(np.array([k]), np.array([n]))
        assert low[0] == pytest.approx(ci.low, abs=1e-10) and high[0] == pytest.approx(ci.high, abs=1e-10)
    rng = np.random.default_rng(0)
    truth = (rng.random(80) < 0.4).astype(int)
    calls = (rng.random((3, 80)) < 0.5).astype(int)
    per = per_reader_binary(calls, truth, 200, 0)
    boot = two_way_binary_ci(calls, truth, 200, 0)
    for name in ("sensitivity", "specificity", "ppv", "npv", "f1"):
        assert boot[name][0] == pytest.approx(np.mean(per[name][0]))
        assert boot[name][1] <= boot[name][0] <= boot[name][2]


def test_round_trip_through_json_is_exact(report) -> None:
    back = Report.from_dict(report.to_dict())
    for table in report.tables:
        got = back.table(table.name).frame
        assert list(got.columns) == list(table.frame.columns)
        np.testing.assert_array_equal(got.select_dtypes("number").to_numpy(),
                                      table.frame.select_dtypes("number").to_numpy())
