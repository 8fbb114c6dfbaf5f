"""Exports: CSV/XLSX tables, long format and iMRMC round trips, the ZIP and its manifest.

The Van Dyke data (Van Dyke et al. 1993, as shipped with MRMCaov and RJafroc) written
through the exports and read back gives the published Obuchowski–Rockette result for
random readers and cases, jackknife covariances, Hillis df: F = 4.456, df = (1, 15.26),
p = 0.0517 (Hillis SL. Stat Med 2007;26:596–619 and Hillis 2018; OR-DBM MRMC 2.51
output "VanDyke trap area jackknife anova", reproduced by RJafroc's tests
goodValues361/Iowa/VanDyke.txt and by the MRMCaov user guide).
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest

from analysis.exports import (
    analysis_zip,
    figure_html,
    long_format,
    long_format_csv,
    read_imrmc,
    read_long_csv,
    report_xlsx,
    table_csv,
    to_imrmc,
)
from analysis.frames import StudyData
from analysis.reports import run_report
from analysis.simulation import SimulationConfig, simulate_study
from analysis.stats import mrmc_or
from tests.analysis.helpers import vandyke_frame

PUBLISHED_F, PUBLISHED_DF, PUBLISHED_P = 4.456, 15.26, 0.0517


def _vandyke_study() -> StudyData:
    frame = vandyke_frame()
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
    return StudyData("Van Dyke 1993", reads, cases)


def _check_published(result) -> None:
    assert result.statistic == pytest.approx(PUBLISHED_F, abs=5e-4)
    assert result.df_den == pytest.approx(PUBLISHED_DF, abs=5e-3)
    assert result.pvalue == pytest.approx(PUBLISHED_P, abs=5e-5)


def test_vandyke_long_format_round_trip_gives_published_or() -> None:
    data = _vandyke_study()
    back = read_long_csv(long_format_csv(long_format(data)))
    assert len(back) == 1140
    _check_published(mrmc_or(back))


def test_vandyke_imrmc_round_trip_gives_published_or() -> None:
    data = _vandyke_study()
    text = to_imrmc(long_format(data), title=data.title, snapshot=data.snapshot)
    lines = text.splitlines()
    assert "BEGIN DATA:" in lines
    assert "NR: 5" in lines and "N0: 69" in lines and "N1: 45" in lines and "NM: 2" in lines
    body = lines[lines.index("BEGIN DATA:") + 1 :]
    assert sum(1 for line in body if line.startswith("-1,")) == 114
    assert all(line.split(",")[2] == "0" for line in body if line.startswith("-1,"))
    _check_published(mrmc_or(read_imrmc(text)))


def test_vandyke_through_the_mrmc_report() -> None:
    report = run_report("mrmc", _vandyke_study())
    row = report.table("or").frame.iloc[0]
    assert row["endpoint"] == "auc"
    assert row["F"] == pytest.approx(PUBLISHED_F, abs=5e-4)
    assert row["df_den"] == pytest.approx(PUBLISHED_DF, abs=5e-3)
    assert row["pvalue"] == pytest.approx(PUBLISHED_P, abs=5e-5)


def test_read_imrmc_rejects_missing_truth() -> None:
    with pytest.raises(ValueError, match="truth"):
        read_imrmc("NR: 1\nBEGIN DATA:\nr1,c1,m1,3\n")
    with pytest.raises(ValueError, match="BEGIN DATA"):
        read_imrmc("readerID,caseID\n")


@pytest.fixture(scope="module")
def small() -> tuple[StudyData, list]:
    data = simulate_study(
        SimulationConfig(
            datasets=(("internal", 60), ("external", 60)),
            n_junior=4,
            n_mid=3,
            n_senior=2,
            blind_sweep_cases=10,
            prevalence=0.3,
            seed=5,
        )
    )
    return data, [
        run_report(key, data, n_resamples=200) for key in ("performance", "roc", "blinded")
    ]


def test_table_csv_and_xlsx_keep_every_number(small) -> None:
    _data, reports = small
    table = reports[0].table("table2")
    back = pd.read_csv(io.BytesIO(table_csv(table)))
    pd.testing.assert_frame_equal(back, table.frame, check_dtype=False, rtol=0, atol=0)
    book = openpyxl.load_workbook(io.BytesIO(report_xlsx(reports[0])))
    assert book.sheetnames[0] == "about"
    about = list(book["about"].values)
    assert about[1][5] == table.methods and about[1][6] == reports[0].snapshot
    rows = list(book["table2"].values)
    assert [r[5] for r in rows[1:]] == table.frame["estimate"].tolist()


def test_zip_holds_tables_figures_reads_and_manifest(small) -> None:
    data, reports = small
    archive = zipfile.ZipFile(io.BytesIO(analysis_zip(reports, data)))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["snapshot_sha256"] == data.snapshot
    assert {"python", "numpy", "scipy", "statsmodels", "pandas", "fontanelle"} <= set(
        manifest["software"]
    )
    for report in manifest["reports"]:
        for table in report["tables"]:
            assert table["methods"] and table["n"] and table["file"] in archive.namelist()
    html = archive.read("figures/roc_roc.html").decode()
    assert "<script src=" not in html.split("<body>")[1][:2000]  # plotly.js inlined, works offline
    assert len(html) > 1_000_000
    files = [n for n in archive.namelist() if n.startswith("data/imrmc/") and n.endswith(".imrmc")]
    assert files and "data/imrmc/README.txt" in archive.namelist()
    for name in files:
        assert read_imrmc(archive.read(name).decode()).shape[0] > 0


def test_figure_html_is_standalone(small) -> None:
    _data, reports = small
    html = figure_html(reports[1].figures[0].figure, "ROC")
    assert "<html>" in html[:100] and len(html) > 1_000_000
    assert '<script src="http' not in html and "<script src='http" not in html


def test_infinite_hillis_df_is_shown_as_infinity_with_a_note() -> None:
    # Every junior gains exactly 4/20 in sensitivity with AI: MS(T×R) = 0 and the Hillis
    # df is ∞ (MRMCaov/RJafroc print Inf); the report keeps ∞ (not a blank), says why, and
    # every export carries it.
    from analysis.reports.base import Report
    from analysis.views import display_value
    from tests.analysis.test_stats_mrmc import equal_gain_sensitivity

    frame = equal_gain_sensitivity()
    rng = np.random.default_rng(1)
    reads = frame.assign(
        tier="junior",
        decision=frame["rating"].astype(int),
        rating=50 * frame["rating"] + rng.uniform(0, 40, len(frame)),
        confidence=0,
        read_time_s=np.nan,
        dataset="demo",
        probe_type="unknown",
        ga_weeks=np.nan,
        condition="normal",
    )
    cases = reads.drop_duplicates("case").loc[
        :, ["case", "dataset", "truth", "condition", "probe_type", "ga_weeks"]
    ]
    report = run_report("mrmc", StudyData("equal gains", reads, cases))
    row = report.table("or").frame.set_index("endpoint").loc["sensitivity"]
    assert row["df_den"] == np.inf
    assert any("∞" in note and "Inf" in note for note in report.notes)
    body = report.to_dict()
    table = next(t for t in body["tables"] if t["name"] == "or")
    column = table["columns"].index("df_den")
    assert [r[column] for r in table["rows"]][1] == "Infinity"
    json.dumps(body, allow_nan=False)
    back = Report.from_dict(body).table("or").frame.set_index("endpoint")
    assert back.loc["sensitivity", "df_den"] == np.inf
    csv = pd.read_csv(io.BytesIO(table_csv(report.table("or")))).set_index("endpoint")
    assert csv.loc["sensitivity", "df_den"] == np.inf
    sheet = list(openpyxl.load_workbook(io.BytesIO(report_xlsx(report)))["or"].values)
    header = list(sheet[0])
    assert sheet[2][header.index("df_den")] == "∞"
    assert display_value(float("inf")) == "∞"
