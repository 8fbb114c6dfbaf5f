"""The analysis figures render in a real browser: reports and the planner's simulation check.

Each report page carries its figures as JSON blocks that ``static/js/figures.js`` draws
with plotly (no inline script: the CSP holds). Here headless Chromium opens the pages of a
small finished study and checks that every figure became a plotly SVG with the traces and
axis titles of its JSON, with no JavaScript error and no CSP violation. The planner's check
runs as a job after the page has loaded: the plot must appear by htmx polling alone.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
from django.urls import reverse

from analysis import jobs, planner
from analysis.models import AnalysisJob, JobStatus
from analysis.services import report_get_or_run
from tests.analysis.helpers import make_study
from tests.analysis.test_planner_views import VANDYKE
from tests.conftest import wait_until_true
from tests.trials.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

#: The reports with figures that the brief names, and one figure each that must be there.
REPORTS = {
    "roc": "roc",
    "mrmc": "reader_auc",
    "subgroups": "forest",
    "blinded": "blinding_index",
    "read_time": "read_times",
}

#: Installed before any page script: CSP violations are recorded where the test reads them.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""

#: For every figure block: its JSON (traces, axis titles) against what plotly drew.
RENDERED = """
() => Array.from(document.querySelectorAll("[data-figure]")).map(function (target) {
  var spec = JSON.parse(document.getElementById(target.getAttribute("data-figure")).textContent);
  var axisTitles = function (selector) {
    return Array.from(target.querySelectorAll(selector)).map(function (t) { return t.textContent; });
  };
  var specTitles = [];
  Object.keys(spec.layout || {}).forEach(function (key) {
    var axis = spec.layout[key];
    if (/^[xy]axis\\d*$/.test(key) && axis && axis.title && axis.title.text) {
      specTitles.push(axis.title.text);
    }
  });
  return {
    id: target.getAttribute("data-figure"),
    drawn: target.getAttribute("data-drawn") === "1",
    svg: target.querySelectorAll("svg.main-svg").length,
    specTraces: (spec.data || []).length,
    drawnTraces: (target._fullData || []).length,
    specNames: (spec.data || []).map(function (t) { return t.name || ""; }),
    drawnNames: (target._fullData || []).map(function (t) { return t.name || ""; }),
    traceGroups: target.querySelectorAll("g.trace, g.traces, g.point, path.box").length,
    specTitles: specTitles,
    axisTitles: axisTitles(".g-xtitle, .g-ytitle, [class^='g-x'][class$='title'], "
      + "[class^='g-y'][class$='title']")
  };
})
"""


def _watch(page: Any) -> list[str]:
    """Console errors, uncaught exceptions and failed responses of the page, as they come.

    A failed load is recorded by its URL (the console only says "Failed to load resource");
    the browser's own favicon request is not the site's (there is no favicon).
    """
    errors: list[str] = []
    page.add_init_script(CSP_LISTENER)

    def console(message: Any) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    def response(answer: Any) -> None:
        if answer.status >= 400 and not answer.url.endswith("/favicon.ico"):
            errors.append(f"{answer.status} {answer.url}")

    page.on("console", console)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("response", response)
    return errors


def _assert_figures_rendered(page: Any, errors: list[str], expected: int) -> list[dict]:
    wait_until_true(
        page,
        "document.querySelectorAll('[data-figure][data-drawn] svg.main-svg').length > 0 && "
        "Array.from(document.querySelectorAll('[data-figure]'))"
        ".every(f => f.getAttribute('data-drawn') === '1')",
        timeout_s=60,
    )
    figures = page.evaluate(RENDERED)
    assert len(figures) == expected, figures
    for figure in figures:
        assert figure["drawn"] and figure["svg"] >= 1, figure
        assert figure["specTraces"] > 0 and figure["drawnTraces"] == figure["specTraces"], figure
        # plotly names an unnamed trace "trace N" itself; every named one keeps its name.
        named = [(i, n) for i, n in enumerate(figure["specNames"]) if n]
        assert [figure["drawnNames"][i] for i, _n in named] == [n for _i, n in named], figure
        assert figure["traceGroups"] > 0, f"no trace drawn in the SVG: {figure}"
        for title in figure["specTitles"]:
            assert title in figure["axisTitles"], (title, figure)
    assert page.evaluate("window.__cspViolations") == [], "CSP violation"
    assert errors == [], errors
    return figures


def test_report_figures_render_in_the_browser(page_for: Any, live_server: Any) -> None:
    from analysis.demo import fill_demo_reads

    study, users = make_study(cases_per_dataset=12, sweeps=4, prefix="F")
    assert not fill_demo_reads(study, coordinator_password=PASSWORD).skipped
    study.refresh_from_db()  # locked and unblinded by the demo's reads
    statistician = users["statistician"]
    counts = {}
    for key in REPORTS:  # computed here (eagerly): the pages then show them at once
        outcome = report_get_or_run(study=study, key=key, actor=statistician)
        assert outcome.report is not None, key
        counts[key] = len(outcome.report.figures)
    page = page_for(statistician)
    page.set_default_timeout(60_000)  # plotly.min.js is 3.5 MB from the test server
    errors = _watch(page)
    for key, name in REPORTS.items():
        page.goto(f"{live_server.url}{reverse('analysis:report', args=[study.pk, key])}")
        figures = _assert_figures_rendered(page, errors, counts[key])
        ids = [f["id"] for f in figures]
        assert f"figure-{name}" in ids, (key, ids)
        if key == "blinded":
            assert page.locator("text=ideal blinding").count() >= 1
            assert "Bang's blinding index (95 % CI)" in page.inner_text("main")


def test_planner_check_plot_appears_without_a_resubmit(
    page_for: Any, live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(planner, "CHECK_STUDIES", 12)
    # No worker takes the job: the test runs it once the page is polling, as a worker would.
    monkeypatch.setattr(jobs, "job_queue", lambda job: None)
    study, users = make_study(cases_per_dataset=4, sweeps=0, prefix="P")
    page = page_for(users["statistician"])
    page.set_default_timeout(60_000)
    errors = _watch(page)
    page.goto(f"{live_server.url}{reverse('planner:page', args=[study.pk])}")
    for field, value in {
        "readers": 10,
        "power": 0.8,
        "effect": 0.043800322,
        "alpha": 0.05,
        **VANDYKE,
    }.items():
        page.fill(f"#id_{field}", str(value))
    page.check("#id_simulate")
    page.click("#planner-form button[type=submit]")
    page.wait_for_selector("#plan-cases")
    assert page.inner_text("#plan-cases") == "163"
    page.wait_for_selector("#job progress")
    job = AnalysisJob.objects.get(study=study, kind=planner.POWER_CHECK)
    assert job.status == JobStatus.QUEUED
    assert page.locator("[data-figure]").count() == 0
    url_before = page.url
    jobs.job_execute(job)
    page.wait_for_selector("#power-check-figure", timeout=30_000)
    assert page.url == url_before, "no reload, no resubmit"
    figures = _assert_figures_rendered(page, errors, 1)
    assert figures[0]["drawnNames"] == [
        "predicted power",
        "simulated rejection rate (95 % MC interval)",
        "type-I error under the null",
    ]
    assert {"Cases", "Power / rejection rate"} <= set(figures[0]["axisTitles"])
    spec = json.loads(page.evaluate("document.getElementById('figure-power-check').textContent"))
    assert spec["data"][0]["x"] == [82, 163, 326]
    time.sleep(2.5)  # one more poll interval: polling has stopped, the plot stays
    assert page.locator("#power-check-figure").count() == 1
