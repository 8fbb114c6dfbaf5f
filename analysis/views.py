"""Statistician pages, API and downloads of the analysis app (thin: access, service, render).

Access: statisticians and coordinators of the study (others get 404 for a study they do
not belong to); when a report may be seen is :func:`analysis.services.report_refusal`.
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import translation
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from analysis import exports, jobs
from analysis.models import AnalysisJob, JobStatus
from analysis.report_i18n import column_label, export_language, localize_report
from analysis.reports import REPORTS, Report, ReportSpec
from analysis.selectors import study_data
from analysis.services import (
    ReportOutcome,
    ReportRefused,
    report_get_or_run,
    report_refusal,
    report_require_allowed,
)
from trials.models import Role, Study
from trials.permissions import access_study

ROLES = (Role.STATISTICIAN, Role.COORDINATOR)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def display_value(value: Any) -> str:
    """How a table cell is shown on the page (the API and exports keep full precision)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, float):
        if value == 0 or abs(value) >= 1e-3:
            return f"{value:.4f}"
        return f"{value:.2e}"
    return str(value)


def _spec(key: str) -> ReportSpec:
    spec = REPORTS.get(key)
    if spec is None:
        raise Http404(_("No such report."))
    return spec


def _outcome(request: HttpRequest, study: Study, key: str) -> ReportOutcome:
    _spec(key)
    return report_get_or_run(study=study, key=key, actor=request.user)


def _refused(request: HttpRequest, study: Study, message: str) -> HttpResponse:
    return render(
        request,
        "analysis/refused.html",
        {"study": study, "message": message, "demo_banner": study.is_demo},
        status=403,
    )


@login_required
def analysis_index(request: HttpRequest, study_id: str) -> HttpResponse:
    """The study's reports, each with whether it can be seen now and why not."""
    study = access_study(request.user, study_id, roles=ROLES)
    reports = [
        {"key": spec.key, "title": _(spec.title), "refusal": report_refusal(study=study, spec=spec)}
        for spec in REPORTS.values()
    ]
    reads_refusal = report_refusal(study=study, spec=REPORTS["performance"])
    return render(
        request,
        "analysis/index.html",
        {
            "study": study,
            "reports": reports,
            "reads_refusal": reads_refusal,
            "demo_banner": study.is_demo,
        },
    )


def _page_tables(report: Report) -> list[dict[str, Any]]:
    tables = []
    for table in report.tables:
        tables.append(
            {
                "name": table.name,
                "title": _(table.title),
                "methods": _(table.methods),
                "n": table.n,
                "columns": [column_label(c) for c in table.frame.columns],
                "rows": [
                    [display_value(v) for v in row] for row in table.frame.itertuples(index=False)
                ],
            }
        )
    return tables


@login_required
def report_page(request: HttpRequest, study_id: str, key: str) -> HttpResponse:
    """One report: its tables with methods, n and snapshot, and its interactive figures."""
    study = access_study(request.user, study_id, roles=ROLES)
    spec = _spec(key)
    try:
        outcome = _outcome(request, study, key)
    except ReportRefused as exc:
        return _refused(request, study, exc.message)
    context: dict[str, Any] = {
        "study": study,
        "spec": spec,
        "title": _(spec.title),
        "job": outcome.job,
        "demo_banner": study.is_demo,
    }
    report = outcome.report
    if report is not None:
        figures = []
        # Figures in the page's language (titles, axes, legends); the numbers are the report's.
        for figure in localize_report(report).to_dict()["figures"]:
            figures.append(
                {
                    "name": figure["name"],
                    "title": _(figure["title"]),
                    "script_id": f"figure-{slugify(figure['name'])}",
                    "spec": figure["figure"],
                }
            )
        context |= {
            "report": report,
            "tables": _page_tables(report),
            "figures": figures,
            "notes": [_(note) for note in report.notes],
        }
    return render(request, "analysis/report.html", context)


def _job_done_url(job: AnalysisJob) -> str:
    """Where a finished job's result is shown: its report, its file, the audit page."""
    if job.kind in REPORTS:
        return reverse("analysis:report", args=[job.study_id, job.kind])
    if job.kind == jobs.BLINDING_AUDIT:
        return reverse("analysis:blinding-audit", args=[job.study_id])
    return ""


def _job_access(request: HttpRequest, job_id: str) -> AnalysisJob:
    job = get_object_or_404(AnalysisJob.objects.select_related("study"), pk=job_id)
    access_study(request.user, job.study_id, roles=jobs.job_roles(job.kind))
    return job


@login_required
def job_progress(request: HttpRequest, job_id: str) -> HttpResponse:
    """A job's progress (polled by htmx every 2 s; no inline script, so the CSP holds).

    A finished report or audit sends the browser to its page; a finished file shows its
    download link; a failed job shows its error.
    """
    job = _job_access(request, job_id)
    done_url = _job_done_url(job)
    if job.status == JobStatus.COMPLETE and done_url:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = done_url
        return response
    return render(request, "analysis/_job.html", {"job": job})


@login_required
def job_file(request: HttpRequest, job_id: str) -> HttpResponseBase:
    """The file a finished job made (the analysis ZIP), for whoever may see the job."""
    job = _job_access(request, job_id)
    if job.kind == jobs.EXPORT_ZIP:
        try:
            report_require_allowed(study=job.study, spec=REPORTS["performance"])
        except ReportRefused as exc:
            return HttpResponse(exc.message, status=403, content_type="text/plain; charset=utf-8")
    if job.status != JobStatus.COMPLETE or not job.file:
        raise Http404(_("No such file."))
    response = FileResponse(
        job.file.open("rb"), as_attachment=True, filename=job.result.get("filename") or "result.bin"
    )
    response["Cache-Control"] = "private, no-store"
    return response


def _job_body(job: AnalysisJob) -> dict[str, Any]:
    body = {
        "id": str(job.pk),
        "kind": job.kind,
        "status": job.status,
        "progress": job.progress,
        "done": job.done,
        "total": job.total,
        "step": job.step,
        "snapshot": job.snapshot,
        "error": job.error,
    }
    if job.status == JobStatus.COMPLETE and job.file:
        body["file"] = reverse("analysis:job-file", args=[job.pk])
    return body


@extend_schema(responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
def api_report(request: Request, study_id: str, key: str) -> Response:
    """A report's tables (full precision), methods, n and snapshot; ``?figures=1`` adds figures.

    202 with the job while it is computing; 403 with the reason while it may not be seen.
    """
    study = access_study(request.user, study_id, roles=ROLES)
    _spec(key)
    try:
        outcome = report_get_or_run(study=study, key=key, actor=request.user)
    except ReportRefused as exc:
        return Response({"detail": exc.message}, status=403)
    if outcome.report is None:
        return Response(
            {"detail": _("The report is being computed."), "job": _job_body(outcome.job)},
            status=202,
        )
    body = outcome.report.to_dict()
    if request.query_params.get("figures") not in ("1", "true"):
        body.pop("figures")
    body["job"] = _job_body(outcome.job)
    return Response(body)


@extend_schema(responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
def api_job(request: Request, job_id: str) -> Response:
    """An analysis job's status, progress (``done`` of ``total``, ``step``), error and file."""
    job = get_object_or_404(AnalysisJob, pk=job_id)
    access_study(request.user, job.study_id, roles=jobs.job_roles(job.kind))
    return Response(_job_body(job))


def _ready_report(request: HttpRequest, study: Study, key: str) -> Report | HttpResponse:
    try:
        outcome = _outcome(request, study, key)
    except ReportRefused as exc:
        return HttpResponse(exc.message, status=403, content_type="text/plain; charset=utf-8")
    if outcome.report is None:
        return HttpResponse(
            _("The report is still being computed; try again shortly."),
            status=409,
            content_type="text/plain; charset=utf-8",
        )
    return outcome.report


def _attachment(content: bytes | str, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def export_table(
    request: HttpRequest, study_id: str, key: str, table: str, fmt: str
) -> HttpResponse:
    """One table of a report as CSV, or the report's tables as XLSX (``table`` = "all")."""
    study = access_study(request.user, study_id, roles=ROLES)
    report = _ready_report(request, study, key)
    if isinstance(report, HttpResponse):
        return report
    with translation.override(export_language(request)):
        return _export_table(localize_report(report), key, table, fmt)


def _export_table(report: Report, key: str, table: str, fmt: str) -> HttpResponse:
    if fmt == "xlsx" and table == "all":
        return _attachment(exports.report_xlsx(report), f"{key}.xlsx", XLSX)
    try:
        chosen = report.table(table)
    except KeyError:
        raise Http404(_("No such table.")) from None
    if fmt == "csv":
        content = exports.table_csv(chosen)
        if not (translation.get_language() or "en").startswith("en"):
            content = "\ufeff".encode() + content  # a BOM: spreadsheet programs then read UTF-8
        return _attachment(content, f"{key}_{table}.csv", "text/csv; charset=utf-8")
    if fmt == "xlsx":
        single = Report(
            report.key, report.title, (chosen,), (), report.methods, report.n, report.snapshot
        )
        return _attachment(exports.report_xlsx(single), f"{key}_{table}.xlsx", XLSX)
    raise Http404(_("No such format."))


@login_required
def export_figure(request: HttpRequest, study_id: str, key: str, name: str) -> HttpResponse:
    """A figure as a standalone HTML file that works offline."""
    study = access_study(request.user, study_id, roles=ROLES)
    report = _ready_report(request, study, key)
    if isinstance(report, HttpResponse):
        return report
    with translation.override(export_language(request)):
        for figure in localize_report(report).figures:
            if figure.name == name:
                html = exports.figure_html(figure.figure, figure.title)
                return _attachment(html, f"{key}_{name}.html", "text/html; charset=utf-8")
        raise Http404(_("No such figure."))


@login_required
def export_reads(request: HttpRequest, study_id: str, fmt: str) -> HttpResponse:
    """The reads (unaided, aided, AI) in long format (CSV) or in the iMRMC input format."""
    study = access_study(request.user, study_id, roles=ROLES)
    try:
        report_require_allowed(study=study, spec=REPORTS["performance"])
    except ReportRefused as exc:
        return HttpResponse(exc.message, status=403, content_type="text/plain; charset=utf-8")
    data = study_data(study=study)
    long = exports.long_format(data)
    if fmt == "long":
        return _attachment(
            exports.long_format_csv(long), "reads_long.csv", "text/csv; charset=utf-8"
        )
    if fmt == "imrmc":
        # One fully crossed file per analysable comparison (iMRMC cannot analyse them mixed).
        return _attachment(exports.imrmc_zip(data), "reads_imrmc.zip", "application/zip")
    raise Http404(_("No such format."))


@login_required
def export_imrmc(request: HttpRequest, study_id: str, name: str) -> HttpResponse:
    """One comparison's iMRMC input file (see :func:`analysis.exports.imrmc_comparisons`)."""
    study = access_study(request.user, study_id, roles=ROLES)
    try:
        report_require_allowed(study=study, spec=REPORTS["performance"])
    except ReportRefused as exc:
        return HttpResponse(exc.message, status=403, content_type="text/plain; charset=utf-8")
    data = study_data(study=study)
    comparisons, _left_out = exports.imrmc_comparisons(data)
    for comparison in comparisons:
        if comparison.name == name:
            text = exports.to_imrmc(
                comparison.frame,
                title=data.title,
                snapshot=data.snapshot,
                description=comparison.description,
            )
            return _attachment(text, f"{name}.imrmc", "text/plain; charset=utf-8")
    raise Http404(_("No such comparison."))


@login_required
@require_http_methods(["GET", "POST"])
def export_zip(request: HttpRequest, study_id: str) -> HttpResponseBase:
    """The whole analysis the user may see now: tables, figures, reads, methods, manifest.

    Made by a job (:data:`analysis.jobs.EXPORT_ZIP`) for the data snapshot, the language
    and the study's status: the file once it is made, else (202) a page with the job's
    progress and, when done, its download link. POST makes it again after a failure.
    """
    study = access_study(request.user, study_id, roles=ROLES)
    try:
        report_require_allowed(study=study, spec=REPORTS["performance"])
    except ReportRefused as exc:
        return HttpResponse(exc.message, status=403, content_type="text/plain; charset=utf-8")
    params = {"language": export_language(request), "status": study.status}
    job = jobs.job_get_or_start(
        study=study,
        kind=jobs.EXPORT_ZIP,
        actor=request.user,
        snapshot=study_data(study=study).snapshot,
        params=params,
        again=request.method == "POST",
    )
    job.refresh_from_db()
    if job.status == JobStatus.COMPLETE and job.file:
        return job_file(request, str(job.pk))
    return render(
        request,
        "analysis/job.html",
        {
            "study": study,
            "job": job,
            "title": _("The whole analysis (ZIP)"),
            "demo_banner": study.is_demo,
            "retry_url": reverse("analysis:export-zip", args=[study.pk]),
        },
        status=202,
    )


def demo_build(request: HttpRequest) -> HttpResponse:
    """The demo build's progress panel (polled by htmx on the home and login pages).

    Public: it names only the demo studies and their progress. When more studies are ready
    than the page showing it knew of (``?ready=N``), the browser reloads the whole page so
    their rows and links appear.
    """
    from analysis.demo_build import panel

    context = panel()
    try:
        known = int(request.GET.get("ready", ""))
    except ValueError:
        known = None
    if known is not None and context["demo_ready"] > known:
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(request, "analysis/_demo_build.html", context)
