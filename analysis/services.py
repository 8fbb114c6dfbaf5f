"""Writes of the analysis app: run reports as jobs, and the rule of when a report may be seen.

When a statistician (or coordinator) may see a report
------------------------------------------------------
- Reports that reveal the allocation or per-case sources (the blinded source trial:
  Bang's index per arm, guesses by source, anything per arm) wait for unblinding:
  they are refused until ``study.status == "unblinded"``.
- Aggregate reports (diagnostic performance, ROC, agreement, errors by condition,
  qualitative scores, subgroups, MRMC) and the reads exports are available once the
  study is locked (no read can change any more). While a study is a draft or open they
  are refused whatever its design: they rest on the gold standard and on every reader's
  answers, unblinded data that statisticians see only after lock (DESIGN.md, users).

A report is computed for a data snapshot (SHA-256 of the study's analysable data): the
same snapshot reuses the stored result, new reads give a new snapshot and a new job.
Every report runs as a Celery job (queued on commit; :mod:`analysis.jobs`) with its
progress on the job: at the paper's scale even the light ones (bootstrap CIs, DeLong per
subgroup) take more than a second, and a request only starts or shows a job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from analysis.frames import StudyData
from analysis.jobs import (
    EXPORT_ZIP,
    RUNNERS,
    Progress,
    analysis_job_create,
    job_create,
    job_execute,
)
from analysis.models import AnalysisJob, JobStatus
from analysis.reports import REPORTS, Report, ReportSpec, run_report
from analysis.selectors import latest_job, study_data
from trials.models import Study, StudyStatus

logger = logging.getLogger(__name__)


class ReportRefused(Exception):
    """The report may not be seen now (the message says why); a 403 for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def report_spec(key: str) -> ReportSpec:
    """The report called ``key``; ``KeyError`` for an unknown one."""
    return REPORTS[key]


def report_refusal(*, study: Study, spec: ReportSpec) -> str:
    """Why ``spec`` may not be seen for ``study`` now ("" when it may); see the module doc."""
    if spec.reveals_allocation:
        if study.status != StudyStatus.UNBLINDED:
            return _(
                "This report reveals the allocation (which material came from which source); "
                "it is available once the study is unblinded."
            )
        return ""
    if study.status in (StudyStatus.LOCKED, StudyStatus.UNBLINDED):
        return ""
    return _("Results are available once the study is locked.")


def report_require_allowed(*, study: Study, spec: ReportSpec) -> None:
    """Raise :class:`ReportRefused` when ``spec`` may not be seen for ``study`` now."""
    reason = report_refusal(study=study, spec=spec)
    if reason:
        raise ReportRefused(reason)


@dataclass(frozen=True)
class ReportOutcome:
    """A report ready to show, or the job still computing it."""

    job: AnalysisJob
    report: Report | None


def _complete(job: AnalysisJob, report: Report) -> None:
    job.result = report.to_dict()
    job.snapshot = report.snapshot
    job.status = JobStatus.COMPLETE
    job.progress = 100
    job.finished_at = timezone.now()
    job.error = ""
    job.save(
        update_fields=[
            "result",
            "snapshot",
            "status",
            "progress",
            "finished_at",
            "error",
            "modified",
        ]
    )


def _compute(
    job: AnalysisJob, data: StudyData, progress: Callable[[int], None] | None = None
) -> Report:
    if progress:
        progress(30)
    return run_report(job.kind, data, n_resamples=job.n_resamples)


def report_get_or_run(
    *, study: Study, key: str, actor: Any, data: StudyData | None = None
) -> ReportOutcome:
    """The report for the study's current data: stored, or queued as a job.

    Refused (:class:`ReportRefused`) where :func:`report_refusal` says so. A report
    without a stored result is queued as a Celery job on commit and comes back pending
    (eager in the embedded default: it has run when the request's transaction commits).
    """
    spec = report_spec(key)
    report_require_allowed(study=study, spec=spec)
    data = data if data is not None else study_data(study=study)
    snapshot = data.snapshot
    job = latest_job(study=study, kind=key, snapshot=snapshot)
    if job is not None:
        if job.status == JobStatus.COMPLETE:
            return ReportOutcome(job, Report.from_dict(job.result))
        return ReportOutcome(job, None)
    job = job_create(study=study, kind=key, actor=actor, snapshot=snapshot)
    job.refresh_from_db()  # eager outside a transaction: it has run already
    if job.status == JobStatus.COMPLETE:
        return ReportOutcome(job, Report.from_dict(job.result))
    return ReportOutcome(job, None)


def _run(job: AnalysisJob, data: StudyData) -> Report | None:
    job.status = JobStatus.RUNNING
    job.started_at = timezone.now()
    job.progress = 10
    job.save(update_fields=["status", "started_at", "progress", "modified"])

    def progress(value: int) -> None:
        AnalysisJob.objects.filter(pk=job.pk).update(
            progress=value, step=REPORTS[job.kind].title, modified=timezone.now()
        )

    try:
        report = _compute(job, data, progress)
    except Exception as exc:  # a report that fails must leave a failed job, not a hung one
        logger.exception("analysis job %s failed", job.pk)
        job.status = JobStatus.FAILED
        job.error = f"{type(exc).__name__}: {exc}"
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at", "modified"])
        return None
    _complete(job, report)
    # What the pages, API and exports show is the stored result, so return that.
    return Report.from_dict(job.result)


def analysis_job_run(*, job_id: str) -> AnalysisJob:
    """Run a queued job (the Celery task's body); idempotent: a finished job is left as is.

    A report's job computes the report; other kinds run their :mod:`analysis.jobs` runner.
    """
    job = AnalysisJob.objects.select_related("study", "created_by").get(pk=job_id)
    if job.status in (JobStatus.COMPLETE, JobStatus.FAILED):
        return job
    if job.kind not in REPORTS:
        return job_execute(job)
    data = study_data(study=job.study)
    _run(job, data)
    job.refresh_from_db()
    return job


def analysis_bundle(
    *, study: Study, actor: Any, progress: Callable[[int, int, str], None] | None = None
) -> tuple[list[Report], StudyData]:
    """Every report the user may see now, computed where missing (for the ZIP export).

    Runs inside the export's job: ``progress(done, total, step)`` after each report.
    """
    data = study_data(study=study)
    reports: list[Report] = []
    allowed = [
        (key, spec) for key, spec in REPORTS.items() if not report_refusal(study=study, spec=spec)
    ]
    for index, (key, spec) in enumerate(allowed):
        if progress:
            progress(index, len(allowed) + 1, spec.title)
        job = latest_job(study=study, kind=key, snapshot=data.snapshot)
        if job is not None and job.status == JobStatus.COMPLETE:
            reports.append(Report.from_dict(job.result))
            continue
        if job is None:
            job = analysis_job_create(study=study, kind=key, actor=actor, snapshot=data.snapshot)
        report = _run(job, data)
        if report is not None:
            reports.append(report)
    return reports, data


def _export_zip(
    job: AnalysisJob, progress: Progress
) -> tuple[dict[str, Any], tuple[str, bytes] | None]:
    """The ``export_zip`` job: every report the user may see, localized, in one ZIP."""
    from analysis import exports
    from analysis.report_i18n import localize_report

    reports, data = analysis_bundle(study=job.study, actor=job.created_by, progress=progress)
    progress(len(reports), len(reports) + 1, gettext_noop("Writing the ZIP file"))
    with translation.override(job.params.get("language") or "en"):
        localized = [localize_report(report) for report in reports]
        content = exports.analysis_zip(localized, data)
    name = f"analysis_{data.snapshot[:12]}.zip"
    return {"filename": name, "reports": [r.key for r in reports], "snapshot": data.snapshot}, (
        name,
        content,
    )


def register_runner() -> None:
    """Add the ``export_zip`` runner to the analysis job mechanism (idempotent)."""
    RUNNERS.setdefault(EXPORT_ZIP, _export_zip)
