"""Report tables and figures exported in the user's language (or the one asked for)."""

from __future__ import annotations

import io
import json

import openpyxl
import pandas as pd
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from analysis.demo import fill_demo_reads
from analysis.report_i18n import localize_report
from analysis.reports import run_report
from analysis.simulation import SimulationConfig, simulate_study
from tests.analysis.helpers import make_study
from tests.trials.factories import PASSWORD


def test_localize_report_translates_titles_methods_columns_and_figures() -> None:
    data = simulate_study(
        SimulationConfig(datasets=(("internal", 30),), n_junior=3, n_mid=2, seed=3)
    )
    report = run_report("roc", data, n_resamples=50)
    with translation.override("en"):
        english = localize_report(report)
    assert [list(t.frame.columns) for t in english.tables] == [
        list(t.frame.columns) for t in report.tables
    ]
    assert english.title == report.title and english.tables[0].methods == report.tables[0].methods
    with translation.override("zh-hans"):
        chinese = localize_report(report)
    assert chinese.title == "ROC 曲线与阅片者工作点"
    assert chinese.tables[0].title == "AI 的 ROC 曲线"
    assert chinese.tables[0].methods.startswith("AI 重度概率的经验 ROC 曲线")
    assert list(chinese.tables[0].frame.columns)[:3] == ["数据集", "假阳性率", "真阳性率"]
    assert chinese.methods == " ".join(t.methods for t in chinese.tables)
    # The numbers are the report's, untouched.
    original = report.tables[0].frame
    pd.testing.assert_frame_equal(
        chinese.tables[0].frame.set_axis(original.columns, axis=1), original
    )
    figure = chinese.figures[0]
    assert figure.title == "ROC：AI 曲线与阅片者工作点"
    assert figure.figure.layout.xaxis.title.text == "1 − 特异度"
    assert figure.figure.layout.yaxis.title.text == "灵敏度"
    names = {trace.name for trace in figure.figure.data if trace.name}
    assert {"初级医师", "中级医师"} <= names
    # The cached report itself is never changed.
    assert report.figures[0].figure.layout.xaxis.title.text == "1 − specificity"


@pytest.mark.django_db
def test_exports_follow_the_lang_parameter_and_the_users_language(
    django_capture_on_commit_callbacks,
) -> None:
    study, users = make_study(prefix="Z")
    fill_demo_reads(study, coordinator_password=PASSWORD)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(users["statistician"])
    # Reports are analysis jobs: a user opens them (here through the API) before the exports,
    # which answer 409 while their report is still being computed. The jobs run on commit.
    for key in ("performance", "roc"):
        api = reverse("analysis:api-report", args=[study.pk, key])
        with django_capture_on_commit_callbacks(execute=True):
            started = client.get(api)
        assert started.status_code in (200, 202), (key, started.content[:300])
        assert client.get(api).status_code == 200, key
    csv_url = reverse("analysis:export-table", args=[study.pk, "performance", "table2", "csv"])
    english = client.get(csv_url)
    chinese = client.get(csv_url + "?lang=zh-hans")
    assert not english.content.startswith(b"\xef\xbb\xbf") and chinese.content.startswith(
        b"\xef\xbb\xbf"
    )
    en_frame = pd.read_csv(io.BytesIO(english.content))
    zh_frame = pd.read_csv(io.BytesIO(chinese.content), encoding="utf-8-sig")
    assert "estimate" in en_frame.columns and "ci_low" in en_frame.columns
    assert "估计值" in zh_frame.columns and "95% CI 下限" in zh_frame.columns
    assert zh_frame.astype(str).to_numpy().tolist() == en_frame.astype(str).to_numpy().tolist()

    xlsx = client.get(
        reverse("analysis:export-table", args=[study.pk, "performance", "all", "xlsx"])
        + "?lang=zh-hans"
    )
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    about = list(book["about"].values)
    assert "表 2：按组别和数据集的诊断效能" in [row[3] for row in about[1:]]
    assert "估计值" in next(book["table2"].values)

    # The user chose Chinese: exports come in Chinese without asking; ?lang=en still gives English.
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    figure = client.get(reverse("analysis:export-figure", args=[study.pk, "roc", "roc"]))
    assert figure.status_code == 200, figure.content[:300]
    html = figure.content.decode()
    assert any(
        text in html
        for text in ("ROC：AI 曲线与阅片者工作点", json.dumps("ROC：AI 曲线与阅片者工作点")[1:-1])
    )
    assert (
        "估计值"
        in pd.read_csv(io.BytesIO(client.get(csv_url).content), encoding="utf-8-sig").columns
    )
    assert "estimate" in pd.read_csv(io.BytesIO(client.get(csv_url + "?lang=en").content)).columns
    page = client.get(reverse("analysis:report", args=[study.pk, "performance"])).content.decode()
    assert "<th>估计值</th>" in page and "表 2：按组别和数据集的诊断效能" in page
