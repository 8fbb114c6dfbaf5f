"""The planner's simulation check runs as a job; page and API show it without a resubmit."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from analysis import jobs, planner
from analysis.models import AnalysisJob, JobStatus
from tests.analysis.helpers import make_study
from tests.analysis.test_planner_views import VANDYKE
from tests.trials.factories import MembershipFactory, StudyFactory, UserFactory
from trials.models import Role

pytestmark = pytest.mark.django_db

PLAN = {
    "method": "OR",
    "analysis": "RRRC",
    "readers": 10,
    "power": 0.8,
    "effect": 0.043800322,
    "alpha": 0.05,
}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _figure(html: str) -> dict[str, Any]:
    match = re.search(
        r'<script id="figure-power-check" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, "the figure's JSON block is on the page"
    return json.loads(match.group(1))


def test_page_polls_the_check_and_shows_its_plot_when_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(planner, "CHECK_STUDIES", 12)  # a small check: seconds, not minutes
    study, users = make_study(cases_per_dataset=4, sweeps=0)
    client = _client(users["statistician"])
    page = client.post(
        reverse("planner:page", args=[study.pk]), {**PLAN, **VANDYKE, "simulate": "on"}
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert b'id="plan-cases">163<' in page.content
    # In the test the job stays queued (no commit): the page polls the check's own URL.
    job = AnalysisJob.objects.get(study=study, kind=planner.POWER_CHECK)
    assert job.status == JobStatus.QUEUED and job.params["studies"] == 12
    check_url = reverse("planner:check", args=[study.pk, job.pk])
    assert f'hx-get="{check_url}"' in html and 'hx-trigger="every 2s"' in html
    assert "figure-power-check" not in html
    assert "js/plotly.min.js" in html and "js/figures.js" in html  # ready for the swap
    polled = client.get(check_url).content.decode()
    assert f'hx-get="{check_url}"' in polled and "figure-power-check" not in polled

    jobs.job_execute(job)  # what the worker does
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETE, job.error
    polled = client.get(check_url).content.decode()
    assert "hx-get" not in polled, "polling stops once the plot is there"
    figure = _figure(polled)
    names = [trace["name"] for trace in figure["data"]]
    assert names == [
        "predicted power",
        "simulated rejection rate (95 % MC interval)",
        "type-I error under the null",
    ]
    assert figure["data"][0]["x"] == [82, 163, 326]
    assert figure["layout"]["xaxis"]["title"]["text"] == "Cases"
    # A resubmit reuses the finished job and shows the plot at once.
    again = client.post(
        reverse("planner:page", args=[study.pk]), {**PLAN, **VANDYKE, "simulate": "on"}
    )
    assert _figure(again.content.decode())["data"][0]["x"] == [82, 163, 326]
    assert AnalysisJob.objects.filter(study=study, kind=planner.POWER_CHECK).count() == 1


def test_api_gives_the_check_job_and_its_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planner, "CHECK_STUDIES", 12)
    study, users = make_study(cases_per_dataset=4, sweeps=0)
    client = _client(users["statistician"])
    body = client.post(
        reverse("planner:api", args=[study.pk]),
        {"components": VANDYKE, **PLAN, "simulate": True},
        content_type="application/json",
    ).json()
    check = body["check_job"]
    assert check["status"] == JobStatus.QUEUED and check["result"] is None
    assert check["figure"] is None
    jobs.job_execute(AnalysisJob.objects.get(pk=check["id"]))
    done = client.get(check["url"]).json()
    assert done["status"] == JobStatus.COMPLETE and done["progress"] == 100
    points = done["result"]["points"]
    assert sorted(p["cases"] for p in points if not p["null"]) == [82, 163, 326]
    assert all(0.0 <= p["rate"] <= 1.0 for p in points)
    assert len(done["figure"]["data"]) == 3
    # The check is the study's: a non-member gets a 404 (the house rule: no hint that it
    # exists), and so does a member of another study asking for it under his own study.
    other = StudyFactory()
    outsider = UserFactory(username="planner-outsider")
    MembershipFactory(study=other, user=outsider, role=Role.STATISTICIAN)
    assert _client(outsider).get(check["url"]).status_code == 404
    wrong = reverse("planner:api-check", args=[other.pk, check["id"]])
    assert _client(outsider).get(wrong).status_code == 404
