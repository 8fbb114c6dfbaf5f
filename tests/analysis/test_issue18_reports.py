"""Issue 18: Table 1, read time, the blinding-index figure and the per-comparison iMRMC files.

Oracles are independent: scipy/sklearn called here directly, an exact enumeration of
the Fisher–Freeman–Halton p-value, and the rules of iMRMC 4's parser
(DIDSR/iMRMC ``src/mrmc/core/InputFile.java``) re-implemented here.
"""

from __future__ import annotations

import io
import itertools
import math
import re
import zipfile

import numpy as np
import pandas as pd
import pytest
from django.test import Client
from django.urls import reverse
from scipy import stats
from sklearn.metrics import roc_auc_score

from analysis.exports import imrmc_comparisons, imrmc_zip, to_imrmc
from analysis.frames import StudyData, group_reads
from analysis.reports import run_report
from analysis.simulation import SimulationConfig, simulate_study
from analysis.stats import contingency_test, fisher_exact, kruskal_wallis
from inference.services import ai_read_time_s

CONFIG = SimulationConfig(
    datasets=(("internal", 40), ("external", 50)),
    n_junior=4,
    n_mid=3,
    n_senior=2,
    blind_sweep_cases=10,
    prevalence=0.3,
    unblinding=0.3,
    seed=5,
)


@pytest.fixture(scope="module")
def data() -> StudyData:
    return simulate_study(CONFIG)


def _ffh_exact(table: np.ndarray) -> float:
    """Fisher–Freeman–Halton p by enumerating every 2 × c table with the observed margins."""
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    n = table.sum()

    def log_p(t: np.ndarray) -> float:
        return (
            sum(math.lgamma(v + 1) for v in rows)
            + sum(math.lgamma(v + 1) for v in cols)
            - math.lgamma(n + 1)
            - sum(math.lgamma(v + 1) for v in t.ravel())
        )

    observed = log_p(table)
    total = 0.0
    for first in itertools.product(*(range(c + 1) for c in cols)):
        if sum(first) != rows[0]:
            continue
        t = np.array([first, cols - np.array(first)])
        if log_p(t) <= observed + 1e-7:
            total += math.exp(log_p(t))
    return total


def test_fisher_freeman_halton_matches_exact_enumeration() -> None:
    table = np.array([[3, 1, 0, 2], [1, 2, 4, 0]])
    exact = _ffh_exact(table)
    result = fisher_exact(table, n_resamples=20000, seed=1)
    se = math.sqrt(exact * (1 - exact) / 20000)
    assert abs(result.pvalue - exact) < 4 * se + 1e-4
    assert "Fisher-Freeman-Halton" in result.method and "2 x 4" in result.method


def test_two_by_two_fisher_and_chi_square_choice_against_scipy() -> None:
    small = [[3, 1], [1, 3]]
    assert fisher_exact(small).pvalue == pytest.approx(stats.fisher_exact(small).pvalue, rel=1e-12)
    assert contingency_test(small).method.startswith("Fisher's exact test (2 x 2)")
    large = np.array([[30, 20, 25], [20, 30, 25]])
    expected = stats.chi2_contingency(large, correction=False)
    result = contingency_test(large)
    assert result.method == "Pearson's Chi-squared test"
    assert result.pvalue == pytest.approx(expected.pvalue, rel=1e-12)
    assert "(2 x 3)" in contingency_test([[10, 20, 1], [12, 18, 2]]).method


def test_kruskal_wallis_against_scipy_drops_missing() -> None:
    a, b, c = [1.0, 2.0, 2.0, np.nan], [4.0, 5.0, 6.0], [2.0, 7.0, 8.0]
    expected = stats.kruskal([1, 2, 2], b, c)
    result = kruskal_wallis(a, b, c)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.pvalue == pytest.approx(expected.pvalue, rel=1e-12) and result.df == 2


def _table1_data() -> StudyData:
    rng = np.random.default_rng(3)
    rows = []
    for dataset, n, shift in (("internal", 30, 0.0), ("external", 40, 1.5), ("sweeps", 12, 0.5)):
        for i in range(n):
            truth = int(rng.random() < 0.3)
            rows.append(
                {
                    "case": f"{dataset[:2]}{i:03d}",
                    "dataset": dataset,
                    "truth": truth,
                    "condition": "pvl" if truth else ("normal" if i % 3 else "ependymal_cyst"),
                    "probe_type": ("linear", "microconvex")[i % 2],
                    "ga_weeks": 30 + i % 8,
                    "ga_exact_weeks": 30 + i % 8 + (i % 7) / 7 + shift,
                    "birth_weight_g": np.nan if i == 0 else 1500 + 40 * i + 200 * shift,
                    "sex": ("F", "M", "U")[i % 3] if dataset != "sweeps" else ("F", "M")[i % 2],
                    "age_at_exam_days": float(1 + i % 10),
                    "apgar_1min": float(5 + i % 5),
                    "apgar_5min": float(7 + i % 3),
                    "manufacturer": ("GE", "Philips")[i % 2],
                    "site": {"internal": "A", "external": ("B", "C", "D")[i % 3], "sweeps": "A"}[
                        dataset
                    ],
                }
            )
    cases = pd.DataFrame(rows)
    reads = pd.DataFrame(
        columns=[
            "reader",
            "tier",
            "modality",
            "case",
            "truth",
            "rating",
            "decision",
            "confidence",
            "read_time_s",
            "dataset",
            "probe_type",
            "ga_weeks",
            "condition",
        ]
    )
    return StudyData("Table 1", reads, cases)


def test_table1_numbers_and_tests_against_independent_calls() -> None:
    data = _table1_data()
    report = run_report("characteristics", data)
    table = report.table("table1").frame.set_index(["characteristic", "level"])
    values = report.table("values").frame
    cases = data.cases
    # continuous: median (IQR) per dataset; Kruskal-Wallis across datasets
    weights = cases.groupby("dataset")["birth_weight_g"]
    row = values[
        (values["characteristic"] == "Birth weight (g)") & (values["dataset"] == "internal")
    ].iloc[0]
    internal = cases.loc[cases["dataset"] == "internal", "birth_weight_g"].dropna()
    assert row["median"] == pytest.approx(np.median(internal))
    assert (row["q1"], row["q3"]) == pytest.approx(tuple(np.quantile(internal, [0.25, 0.75])))
    assert row["missing"] == 1 and row["n"] == 29
    expected = stats.kruskal(*[w.dropna() for _, w in weights])
    kw = table.loc[("Birth weight (g)", "median (IQR)")]
    assert kw["test"] == "Kruskal-Wallis rank sum test" and kw["pvalue"] == pytest.approx(
        expected.pvalue
    )
    assert "1 missing" in kw["internal"]
    # categorical: sex without "unknown" in the test; chi-squared or Fisher by expected counts
    known = cases[cases["sex"] != "U"]
    counts = pd.crosstab(known["dataset"], known["sex"]).to_numpy()
    sex = table.loc[("Sex", "female")]
    independent = stats.chi2_contingency(counts, correction=False)
    if (independent.expected_freq >= 5).all():
        assert sex["test"] == "Pearson's Chi-squared test"
        assert sex["pvalue"] == pytest.approx(independent.pvalue)
    else:
        assert "Fisher" in sex["test"]
    assert table.loc[("Sex", "unknown"), "internal"] == "10 (33.3 %)"
    # site: a 3 x 4 table with small expected counts -> Fisher-Freeman-Halton, said so
    assert "Fisher-Freeman-Halton exact test (3 x 4)" in table.loc[("Site", "A"), "test"]
    severe = values[
        (values["characteristic"] == "Severity (gold standard)") & (values["level"] == "severe")
    ]
    assert severe.set_index("dataset")["count"].to_dict() == {
        **cases.groupby("dataset")["truth"].sum().to_dict(),
        "all": int(cases["truth"].sum()),
    }
    assert report.figures and report.figures[0].name == "conditions"


def test_read_time_against_independent_tests(data) -> None:
    report = run_report("read_time", data)
    by_group = report.table("by_group").frame.set_index("group")
    ai = group_reads(data.reads, "ai").set_index("case")["read_time_s"]
    assert by_group.loc["ai", "mean_s"] == pytest.approx(ai.mean())
    vs_ai = report.table("vs_ai").frame.set_index("group")
    junior = group_reads(data.reads, "junior").groupby("case")["read_time_s"].mean()
    shared = junior.index.intersection(ai.index)
    x, y = junior[shared].to_numpy(), ai[shared].to_numpy()
    assert vs_ai.loc["junior", "pvalue_welch"] == pytest.approx(
        stats.ttest_ind(x, y, equal_var=False).pvalue, rel=1e-9, abs=1e-300
    )
    u = stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic", use_continuity=True)
    assert vs_ai.loc["junior", "mann_whitney_u"] == pytest.approx(u.statistic)
    assert vs_ai.loc["junior", "pvalue_mann_whitney"] == pytest.approx(
        u.pvalue, rel=1e-6, abs=1e-300
    )
    aided = report.table("aided_vs_unaided").frame.set_index("reader")
    reads = data.reads[data.reads["tier"] == "junior"]
    means = reads.pivot_table(
        index="reader", columns="modality", values="read_time_s", aggfunc="mean"
    )
    exact = stats.wilcoxon(means["aided"] - means["unaided"], method="exact")
    assert aided.loc["all readers", "pvalue"] == pytest.approx(exact.pvalue)
    first = means.index[0]
    pairs = reads[reads["reader"] == first].pivot_table(
        index="case", columns="modality", values="read_time_s"
    )
    expected = stats.wilcoxon(pairs["aided"] - pairs["unaided"], method="approx", correction=True)
    assert aided.loc[first, "pvalue"] == pytest.approx(expected.pvalue, rel=1e-9)


def test_read_time_without_ai_times_says_so(data) -> None:
    reads = data.reads.copy()
    reads.loc[reads["tier"] == "ai", "read_time_s"] = np.nan
    report = run_report("read_time", StudyData("no AI times", reads, data.cases))
    assert "vs_ai" not in {t.name for t in report.tables}
    assert any("not recorded" in note for note in report.notes)


def test_ai_read_time_prefers_the_pipeline_total() -> None:
    assert ai_read_time_s({"view_extraction": 20.0, "diagnosis": 1.0, "total": 21.5}, 99.0) == 21.5
    assert ai_read_time_s({"detection": 0.1, "diagnosis": 0.05}, 99.0) == pytest.approx(0.15)
    assert ai_read_time_s({}, 3.2) == 3.2


def test_blinding_index_figure_has_band_and_the_table_cis(data) -> None:
    report = run_report("blinded", data, n_resamples=200)
    figure = report.figures[0]
    assert figure.name == "blinding_index"
    band = figure.figure.layout.shapes[0]
    assert (band.y0, band.y1) == (-0.2, 0.2)
    table = report.table("blinding").frame
    bang = table[table["index"] == "Bang"].set_index("arm")
    wald = next(t for t in figure.figure.data if t.name == "Wald CI")
    boot = next(t for t in figure.figure.data if t.name == "bootstrap CI")
    np.testing.assert_allclose(wald.y, bang["estimate"].to_numpy())
    np.testing.assert_allclose(
        np.asarray(wald.y) + np.asarray(wald.error_y.array), bang["ci_high"].to_numpy()
    )
    np.testing.assert_allclose(
        np.asarray(boot.y) - np.asarray(boot.error_y.arrayminus), bang["boot_low"].to_numpy()
    )
    assert any(a.text.startswith("ideal blinding") for a in figure.figure.layout.annotations)


def _parse_like_imrmc(text: str) -> dict:
    """iMRMC 4's reading of an input file (InputFile.getExperimentSizeFromHeader,
    parseObserverData, verifySizesAndGetIDs), re-implemented, with its refusals as errors."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]  # Java's readLine does not see an empty last line
    header: dict[str, int] = {}
    position = 0
    while not lines[position].upper().startswith("BEGIN DATA:"):
        line = lines[position]
        assert len(line) != 1, "a one-character line stops iMRMC's reader"
        for token in ("N0:", "N1:", "NR:", "NM:"):
            if token in line.upper():
                header[token[:2]] = int(line[3:].strip())  # NumberFormatException otherwise
        position += 1
    truth: dict[str, int] = {}
    scores: dict[tuple[str, str, str], float] = {}
    for line in lines[position + 1 :]:
        fields = [re.sub(r"\s", "", f) for f in line.split(",")]
        assert len(fields) >= 4, f"invalid input row {line!r}"
        reader, case, modality, score = fields[:4]
        if reader in ("-1", "truth"):
            assert score in ("0", "1") and case not in truth
            truth[case] = int(score)
        else:
            assert (reader, case, modality) not in scores, "replicate observation"
            scores[(reader, case, modality)] = float(score)
    return {"header": header, "truth": truth, "scores": scores}


def test_imrmc_files_are_fully_crossed_and_give_the_platform_aucs(data) -> None:
    comparisons, left_out = imrmc_comparisons(data)
    names = {c.name for c in comparisons}
    assert {
        "junior_unaided_vs_aided",
        "ai_vs_junior_unaided",
        "ai_vs_mid_level_unaided",
        "ai_vs_panel_unaided",
    } <= names and not left_out
    archive = zipfile.ZipFile(io.BytesIO(imrmc_zip(data)))
    for comparison in comparisons:
        text = archive.read(f"{comparison.name}.imrmc").decode()
        parsed = _parse_like_imrmc(text)
        readers = {r for r, _c, _m in parsed["scores"]}
        modalities = {m for _r, _c, m in parsed["scores"]}
        cases = set(parsed["truth"])
        # fully crossed: every reader x case x modality, nothing else; truth for every case
        assert set(parsed["scores"]) == set(itertools.product(readers, cases, modalities))
        n0 = sum(1 for v in parsed["truth"].values() if v == 0)
        assert parsed["header"] == {
            "NR": len(readers),
            "N0": n0,
            "N1": len(cases) - n0,
            "NM": len(modalities),
        }
        assert min(n0, len(cases) - n0) >= 3
        assert "Comparison: " in text.split("BEGIN DATA:")[0] and "fully crossed" in text
        # the reader-averaged AUC per modality is the platform's group AUC
        for modality in modalities:
            truth = [parsed["truth"][c] for c in sorted(cases)]
            aucs = [
                roc_auc_score(truth, [parsed["scores"][(r, c, modality)] for c in sorted(cases)])
                for r in sorted(readers)
            ]
            group = {"ai": "ai", "aided": "junior_ai"}.get(modality, "junior")
            if comparison.name == "ai_vs_mid_level_unaided" and modality == "unaided":
                group = "mid_level"
            if comparison.name == "ai_vs_panel_unaided" and modality == "unaided":
                continue
            rows = group_reads(data.reads, group)
            rows = rows[rows["case"].isin(cases)]
            expected = np.mean(
                [roc_auc_score(r["truth"], r["rating"]) for _, r in rows.groupby("reader")]
            )
            assert np.mean(aucs) == pytest.approx(expected, abs=1e-12), (comparison.name, modality)
    assert "README.txt" in archive.namelist()


def test_the_old_mixed_file_is_not_fully_crossed(data) -> None:
    """What iMRMC refused (n <= 0): all reads in one file, the AI a one-reader modality."""
    from analysis.exports import long_format

    parsed = _parse_like_imrmc(to_imrmc(long_format(data)))
    readers = {r for r, _c, _m in parsed["scores"]}
    modalities = {m for _r, _c, m in parsed["scores"]}
    assert len(parsed["scores"]) < len(readers) * len(modalities) * len(parsed["truth"])


def test_imrmc_header_never_carries_a_count_token_in_free_text() -> None:
    frame = pd.DataFrame(
        {
            "reader": ["r1"] * 6,
            "modality": ["m"] * 6,
            "case": list("abcdef"),
            "truth": [0, 0, 0, 1, 1, 1],
            "rating": [1.0, 2, 3, 4, 5, 6],
        }
    )
    text = to_imrmc(frame, title="nr: trick N0:9", description=["BEGIN DATA: not yet", "x"])
    parsed = _parse_like_imrmc(text)
    assert parsed["header"] == {"NR": 1, "N0": 3, "N1": 3, "NM": 1}
    with pytest.raises(ValueError):
        to_imrmc(frame.assign(case=["a b", "c", "d", "e", "f", "g"]))


def _api(client: Client, study, key: str, capture, query: str = "") -> dict:
    url = reverse("analysis:api-report", args=[study.pk, key]) + query
    for _ in range(3):
        with capture(execute=True):
            response = client.get(url)
        if response.status_code == 200:
            return response.json()
        if response.status_code == 202:  # a queued job: run it on commit
            from analysis.services import analysis_job_run

            with capture(execute=True):
                analysis_job_run(job_id=response.json()["job"]["id"])
    raise AssertionError(response.content)


@pytest.mark.django_db
def test_pages_api_and_exports_of_the_new_reports(django_capture_on_commit_callbacks) -> None:
    from analysis.demo import fill_demo_reads
    from tests.analysis.helpers import make_study
    from tests.trials.factories import PASSWORD

    study, users = make_study(cases_per_dataset=12, sweeps=4, prefix="T")
    assert not fill_demo_reads(study, coordinator_password=PASSWORD).skipped
    client = Client()
    client.force_login(users["statistician"])
    for key, table in (("characteristics", "table1"), ("read_time", "vs_ai")):
        body = _api(client, study, key, django_capture_on_commit_callbacks)
        frame = next(t for t in body["tables"] if t["name"] == table)
        assert frame["rows"] and frame["methods"]
        page = client.get(reverse("analysis:report", args=[study.pk, key]))
        assert page.status_code == 200 and body["snapshot"] in page.content.decode()
        csv = client.get(reverse("analysis:export-table", args=[study.pk, key, table, "csv"]))
        assert csv.status_code == 200
        assert pd.read_csv(io.BytesIO(csv.content)).shape[0] == len(frame["rows"])
    zh = client.get(
        reverse("analysis:report", args=[study.pk, "read_time"]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert "阅片时间" in zh.content.decode()
    by_group = next(
        t
        for t in _api(client, study, "read_time", django_capture_on_commit_callbacks)["tables"]
        if t["name"] == "by_group"
    )
    assert "ai" in [row[0] for row in by_group["rows"]]  # the AI's seconds reach the report
    blinded = _api(client, study, "blinded", django_capture_on_commit_callbacks, "?figures=1")
    assert blinded["figures"][0]["name"] == "blinding_index"
    bundle = zipfile.ZipFile(
        io.BytesIO(client.get(reverse("analysis:export-reads", args=[study.pk, "imrmc"])).content)
    )
    assert "README.txt" in bundle.namelist()
    one = client.get(reverse("analysis:export-imrmc", args=[study.pk, "junior_unaided_vs_aided"]))
    assert one.status_code == 200 and one.content == bundle.read("junior_unaided_vs_aided.imrmc")
    assert (
        client.get(reverse("analysis:export-imrmc", args=[study.pk, "nothing"])).status_code == 404
    )
