"""Analysis pages, API and downloads on a study filled by the demo's reader simulator.

Proves: every report renders; page, API and exports show the same numbers; access is
by study role (another study's statistician gets 404); the blinded trial report is
refused until unblinding; the demo filler is idempotent.
"""

from __future__ import annotations

import io
import json
import zipfile

import openpyxl
import pandas as pd
import pytest
from django.test import Client
from django.urls import reverse

from analysis.demo import fill_demo_reads
from analysis.exports import read_long_csv
from analysis.models import AnalysisJob, JobStatus
from analysis.reports import REPORTS
from analysis.views import display_value
from tests.analysis.helpers import make_study
from tests.trials.factories import PASSWORD
from trials.models import Study, StudyStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(django_capture_on_commit_callbacks):
    study, users = make_study(prefix="A")
    other, other_users = make_study(cases_per_dataset=4, sweeps=0, prefix="B")
    filled = fill_demo_reads(study, coordinator_password=PASSWORD)
    assert not filled.skipped
    study.refresh_from_db()
    return {
        "study": study,
        "users": users,
        "other": other,
        "other_users": other_users,
        "capture": django_capture_on_commit_callbacks,
    }


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(world, client: Client, key: str) -> dict:
    url = reverse("analysis:api-report", args=[world["study"].pk, key])
    with world["capture"](execute=True):
        response = client.get(url)
    if response.status_code == 202:  # a heavy report: its job ran on commit
        response = client.get(url)
    assert response.status_code == 200, response.content
    return response.json()


def _zip(world, client: Client, study) -> zipfile.ZipFile:
    """The analysis ZIP: the first request starts its job (run on commit), the next serves it."""
    url = reverse("analysis:export-zip", args=[study.pk])
    with world["capture"](execute=True):
        response = client.get(url)
    if response.status_code == 202:
        assert b'id="job"' in response.content
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return zipfile.ZipFile(io.BytesIO(response.getvalue()))  # the streamed file, joined


def test_demo_filler_is_idempotent_and_unblinds(world) -> None:
    study = world["study"]
    assert study.status == StudyStatus.UNBLINDED
    assert fill_demo_reads(study).skipped


def test_every_report_renders_on_page_and_api(world) -> None:
    client = _client(world["users"]["statistician"])
    for key in REPORTS:
        body = _api(world, client, key)
        assert body["tables"] or body["notes"], key
        page = client.get(reverse("analysis:report", args=[world["study"].pk, key]))
        assert page.status_code == 200, key
        html = page.content.decode()
        assert body["snapshot"] in html
        for table in body["tables"]:
            assert table["methods"] and table["n"]
    assert not AnalysisJob.objects.filter(status=JobStatus.FAILED).exists()


def test_page_api_and_exports_agree(world) -> None:
    client = _client(world["users"]["statistician"])
    study = world["study"]
    body = _api(world, client, "performance")
    page = client.get(reverse("analysis:report", args=[study.pk, "performance"])).content.decode()
    table = next(t for t in body["tables"] if t["name"] == "table2")
    api_frame = pd.DataFrame(table["rows"], columns=table["columns"])
    for value in api_frame["estimate"].tolist() + api_frame["ci_low"].tolist():
        assert f"<td>{display_value(value)}</td>" in page
    csv = client.get(
        reverse("analysis:export-table", args=[study.pk, "performance", "table2", "csv"])
    )
    assert csv.status_code == 200
    csv_frame = pd.read_csv(io.BytesIO(csv.content))
    pd.testing.assert_frame_equal(csv_frame, api_frame, check_dtype=False, rtol=0, atol=0)
    xlsx = client.get(
        reverse("analysis:export-table", args=[study.pk, "performance", "table2", "xlsx"])
    )
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content))["table2"]
    values = list(sheet.values)
    assert list(values[0]) == table["columns"]
    assert [row[5] for row in values[1:]] == api_frame["estimate"].tolist()
    archive = _zip(world, client, study)
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["snapshot_sha256"] == body["snapshot"]
    assert set(manifest["software"]) >= {
        "python",
        "numpy",
        "scipy",
        "statsmodels",
        "pandas",
        "fontanelle",
    }
    assert archive.read("tables/performance/table2.csv") == csv.content
    assert {f"figures/{k}" for k in ("performance_auc_bars.html", "roc_roc.html")} <= set(
        archive.namelist()
    )
    assert "Plotly" in archive.read("figures/roc_roc.html").decode()[:5_000_000]
    long = read_long_csv(
        client.get(reverse("analysis:export-reads", args=[study.pk, "long"])).content
    )
    assert set(long.columns) == {"reader", "modality", "case", "truth", "rating"}
    assert (
        archive.read("data/reads_long.csv").decode().splitlines()[0]
        == "reader,modality,case,truth,rating"
    )


def test_statistician_of_another_study_gets_404(world) -> None:
    client = _client(world["other_users"]["statistician"])
    study = world["study"]
    for url in (
        reverse("analysis:index", args=[study.pk]),
        reverse("analysis:report", args=[study.pk, "performance"]),
        reverse("analysis:api-report", args=[study.pk, "performance"]),
        reverse("analysis:export-zip", args=[study.pk]),
        reverse("analysis:export-reads", args=[study.pk, "imrmc"]),
    ):
        assert client.get(url).status_code == 404, url


def test_reader_of_the_study_gets_403(world) -> None:
    client = _client(world["users"]["junior1"])
    response = client.get(reverse("analysis:api-report", args=[world["study"].pk, "performance"]))
    assert response.status_code == 403


def test_blinded_report_waits_for_unblinding(world) -> None:
    study = world["study"]
    Study.objects.filter(pk=study.pk).update(status=StudyStatus.LOCKED)
    client = _client(world["users"]["statistician"])
    api = client.get(reverse("analysis:api-report", args=[study.pk, "blinded"]))
    assert api.status_code == 403
    assert "unblinded" in api.json()["detail"]
    page = client.get(reverse("analysis:report", args=[study.pk, "blinded"]))
    assert page.status_code == 403
    assert "unblinded" in page.content.decode()
    # Aggregate results are available once locked, and the ZIP leaves the trial out.
    assert _api(world, client, "performance")["tables"]
    names = _zip(world, client, study).namelist()
    assert not any(name.startswith("tables/blinded/") for name in names)


def test_aggregate_results_wait_for_locking(world) -> None:
    study = world["study"]
    Study.objects.filter(pk=study.pk).update(status=StudyStatus.OPEN)
    client = _client(world["users"]["coordinator"])
    for key in ("performance", "mrmc"):
        response = client.get(reverse("analysis:api-report", args=[study.pk, key]))
        assert response.status_code == 403
        assert "locked" in response.json()["detail"]
    assert client.get(reverse("analysis:export-reads", args=[study.pk, "long"])).status_code == 403


def test_paired_delong_against_the_ai_on_page_api_and_exports(world) -> None:
    client = _client(world["users"]["statistician"])
    study = world["study"]
    body = _api(world, client, "performance")
    table = next(t for t in body["tables"] if t["name"] == "delong_vs_ai")
    api_frame = pd.DataFrame(table["rows"], columns=table["columns"])
    assert "mean of readers" in set(api_frame["reader"])
    assert {"junior", "mid_level"} <= set(api_frame["group"])
    assert "DeLong" in table["methods"]
    page = client.get(reverse("analysis:report", args=[study.pk, "performance"])).content.decode()
    assert 'id="table-delong_vs_ai"' in page
    for value in api_frame["z"].tolist():
        assert f"<td>{display_value(value)}</td>" in page
    url = reverse("analysis:export-table", args=[study.pk, "performance", "delong_vs_ai", "csv"])
    csv_frame = pd.read_csv(io.BytesIO(client.get(url).content))
    pd.testing.assert_frame_equal(csv_frame, api_frame, check_dtype=False, rtol=0, atol=0)


def test_export_zip_is_a_job_with_progress_and_a_download(world) -> None:
    """The request only starts the export's job or shows it; the job reports its progress
    (reports done of reports) and, when done, its file is downloadable; a failure shows."""
    study = world["study"]
    client = _client(world["users"]["statistician"])
    url = reverse("analysis:export-zip", args=[study.pk])
    with world["capture"](execute=False) as queued:
        page = client.get(url)
    assert page.status_code == 202 and len(queued) == 1  # queued on commit, not run in the request
    job = AnalysisJob.objects.get(study=study, kind="export_zip")
    assert job.status == JobStatus.QUEUED
    body = page.content.decode()
    assert f'hx-get="{reverse("analysis:job", args=[job.pk])}"' in body and "<script>" not in body
    queued[0]()  # the worker runs the task
    job.refresh_from_db()
    assert (
        job.status == JobStatus.COMPLETE and job.file and job.total >= 2 and job.done == job.total
    )
    poll = client.get(reverse("analysis:job", args=[job.pk]))
    assert 'id="job-download"' in poll.content.decode()
    api = client.get(reverse("analysis:api-job", args=[job.pk])).json()
    assert api["status"] == "complete" and api["file"].endswith("/file")
    download = client.get(api["file"])
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(download.getvalue())).namelist()
    assert client.get(url).status_code == 200  # the same snapshot and language: served, not redone
    assert AnalysisJob.objects.filter(study=study, kind="export_zip").count() == 1
    # Another study's statistician reaches neither the job nor its file.
    other = _client(world["other_users"]["statistician"])
    assert other.get(reverse("analysis:job", args=[job.pk])).status_code == 404
    assert other.get(api["file"]).status_code == 404


def test_a_failed_export_job_shows_its_error(world, monkeypatch) -> None:
    from analysis import jobs

    def broken(job, progress):
        progress(1, 3, "Writing the ZIP file")
        raise RuntimeError("disk full")

    monkeypatch.setitem(jobs.RUNNERS, jobs.EXPORT_ZIP, broken)
    client = _client(world["users"]["statistician"])
    with world["capture"](execute=True):
        client.get(reverse("analysis:export-zip", args=[world["study"].pk]))
    job = AnalysisJob.objects.get(study=world["study"], kind="export_zip")
    assert job.status == JobStatus.FAILED and "disk full" in job.error
    page = client.get(reverse("analysis:job", args=[job.pk])).content.decode()
    assert "disk full" in page and "hx-get" not in page
