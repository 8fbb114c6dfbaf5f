"""The MRMC report and the iMRMC export on a split-plot layout (pure: StudyData, no DB)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.exports import imrmc_comparisons
from analysis.frames import StudyData
from analysis.reports import run_report
from analysis.stats import mrmc_or
from analysis.stats.splitplot import mrmc_or_split_plot
from tests.analysis.helpers import vandyke_frame


def _study(blocks: dict[int, int], keep_case=None) -> StudyData:
    frame = vandyke_frame()
    frame = frame[frame["reader"].map(blocks) == frame["case"] % 2]
    if keep_case is not None:
        frame = frame[keep_case(frame)]
    frame["reader"] = "R" + frame["reader"].astype(str)
    frame["case"] = "C" + frame["case"].astype(str).str.zfill(3)
    frame["modality"] = frame["modality"].map({1: "unaided", 2: "aided"})
    reads = frame.assign(
        tier="junior",
        decision=(frame["rating"] >= 3).astype(int),
        confidence=0,
        read_time_s=np.nan,
        dataset="vandyke",
        probe_type="unknown",
        ga_weeks=np.nan,
        condition="normal",
    )
    cases = reads.drop_duplicates("case").loc[
        :, ["case", "dataset", "truth", "condition", "probe_type", "ga_weeks"]
    ]
    return StudyData("Van Dyke split", reads, cases)


BLOCKS = {1: 0, 2: 1, 3: 0, 4: 1, 5: 0}


def test_report_analyses_the_split_plot_layout_and_says_so():
    data = _study(BLOCKS)
    report = run_report("mrmc", data)
    table = report.table("or").frame.set_index("endpoint")
    long = data.reads.loc[:, ["reader", "modality", "case", "truth", "rating"]]
    oracle = mrmc_or_split_plot(long)
    assert table.loc["auc", "F"] == pytest.approx(oracle.statistic)
    assert table.loc["auc", "design"] == "split-plot-c"
    assert "auc (DBM)" not in table.index
    assert report.table("sample_size").frame.empty
    assert any("readers nested in 2 case blocks" in note for note in report.notes)
    # The fully crossed analysis cannot run on it: no case is read by every reader.
    with pytest.raises(ValueError, match="not fully crossed"):
        mrmc_or(long)


def test_a_block_with_one_truth_class_gives_a_note_not_an_error():
    severe_only = _study(
        BLOCKS, keep_case=lambda frame: (frame["case"] % 2 == 0) | (frame["truth"] == 1)
    )
    report = run_report("mrmc", severe_only)
    assert any(note.startswith("OR split-plot:") for note in report.notes)


def test_imrmc_export_writes_the_split_plot_file():
    comparisons, _ = imrmc_comparisons(_study(BLOCKS))
    junior = next(c for c in comparisons if c.name == "junior_unaided_vs_aided")
    assert any(line.startswith("Design: split-plot-c") for line in junior.description)
    assert junior.frame["case"].nunique() == 114
    assert mrmc_or_split_plot(junior.frame).statistic == pytest.approx(
        mrmc_or_split_plot(_study(BLOCKS).reads.loc[:, list(junior.frame.columns)]).statistic
    )
