"""Heavy work off the request path: one job model, one Celery task, a runner per kind.

Every report (:mod:`analysis.services`), the analysis ZIP and the blinding audit of a
source trial run as an :class:`~analysis.models.AnalysisJob` through the one task
:func:`analysis.tasks.run_analysis_job` on the ``default`` queue (eager in the embedded
default). A request only starts a job (queued on commit) or shows it: the page polls
``analysis:job`` with htmx and shows progress in the task's own units (``done`` of
``total``, with the step), the error of a failed job, and the result when done (a report
page, a download, the audit's aggregate).

A runner takes the job and a :class:`Progress` and returns the job's aggregate result (a
JSON-able dict) and optionally a file (name, bytes) to download.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from analysis.models import AnalysisJob, JobStatus
from config.celery import task_queue_on_commit
from trials.audit import audit_record
from trials.models import AuditAction, Role, Study

logger = logging.getLogger(__name__)

#: Bootstrap resamples of a report's job.
N_RESAMPLES = 2000

EXPORT_ZIP = "export_zip"
BLINDING_AUDIT = "blinding_audit"

#: Who may see a job of each non-report kind (reports: statisticians and coordinators).
KIND_ROLES: dict[str, tuple[str, ...]] = {
    EXPORT_ZIP: (Role.STATISTICIAN, Role.COORDINATOR),
    BLINDING_AUDIT: (Role.COORDINATOR,),
}


class Progress:
    """Progress written from inside a task: ``done`` of ``total`` units, and the step.

    One UPDATE per call (never the job's whole row), throttled to one every
    ``min_interval`` seconds unless the step changes, so a loop over thousands of items
    does not spend its time writing progress.
    """

    def __init__(self, job_id: Any, *, min_interval: float = 0.5) -> None:
        self.job_id = job_id
        self.min_interval = min_interval
        self._last: float = 0.0
        self._step = ""

    def __call__(self, done: int, total: int, step: str = "") -> None:
        import time

        now = time.monotonic()
        if step == self._step and now - self._last < self.min_interval and done < total:
            return
        self._last, self._step = now, step
        percent = int(99 * done / total) if total else 0
        AnalysisJob.objects.filter(pk=self.job_id).update(
            done=done,
            total=total,
            step=step[:200],
            progress=min(max(percent, 1), 99),
            modified=timezone.now(),
        )


Runner = Callable[[AnalysisJob, Progress], tuple[dict[str, Any], tuple[str, bytes] | None]]


#: The runner of each non-report kind. The analyses register their own
#: (:meth:`analysis.apps.AnalysisConfig.ready`: the ZIP export in :mod:`analysis.services`,
#: the blinding audit in :mod:`analysis.blinding`, the power check in :mod:`analysis.planner`),
#: so this mechanism imports none of the work it runs.
RUNNERS: dict[str, Runner] = {}


def job_state(job: AnalysisJob) -> dict[str, Any]:
    """A job's state as the APIs show it: status, progress (``done`` of ``total``, step), error."""
    return {
        "id": str(job.pk),
        "status": job.status,
        "progress": job.progress,
        "done": job.done,
        "total": job.total,
        "step": job.step,
        "error": job.error,
    }


def job_roles(kind: str) -> tuple[str, ...]:
    """The study roles that may see a job of ``kind``."""
    return KIND_ROLES.get(kind, (Role.STATISTICIAN, Role.COORDINATOR))


@transaction.atomic
def analysis_job_create(
    *,
    study: Study,
    kind: str,
    actor: Any,
    snapshot: str,
    n_resamples: int = N_RESAMPLES,
    params: dict[str, Any] | None = None,
) -> AnalysisJob:
    """Record a queued job (audited); the caller queues or runs it."""
    job = AnalysisJob(
        study=study,
        kind=kind,
        snapshot=snapshot,
        n_resamples=n_resamples,
        params=params or {},
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    job.full_clean()
    job.save()
    audit_record(
        actor=actor,
        action=AuditAction.ANALYSIS_RUN,
        target=job,
        study=study,
        after={"kind": kind, "snapshot": snapshot, "n_resamples": n_resamples, **(params or {})},
    )
    return job


def job_create(
    *,
    study: Study,
    kind: str,
    actor: Any,
    snapshot: str,
    params: dict[str, Any] | None = None,
    start: bool = True,
) -> AnalysisJob:
    """Record a queued job (audited) and, with ``start``, queue its task once committed."""
    with transaction.atomic():
        job = analysis_job_create(
            study=study, kind=kind, actor=actor, snapshot=snapshot, params=params or {}
        )
        if start:
            job_queue(job)
    return job


def job_queue(job: AnalysisJob) -> None:
    """Queue the job's task when the current transaction commits (at once outside one)."""
    task_queue_on_commit("analysis.tasks.run_analysis_job", kwargs={"job_id": str(job.pk)})


def job_latest(
    *, study: Study, kind: str, snapshot: str | None = None, params: dict[str, Any] | None = None
) -> AnalysisJob | None:
    """The newest job of ``kind`` for the study (for ``snapshot`` and ``params`` if given)."""
    jobs = AnalysisJob.objects.filter(study=study, kind=kind)
    if snapshot is not None:
        jobs = jobs.filter(snapshot=snapshot)
    for job in jobs.order_by("-created")[:50]:
        if params is None or all(job.params.get(k) == v for k, v in params.items()):
            return job
    return None


def job_get_or_start(
    *,
    study: Study,
    kind: str,
    actor: Any,
    snapshot: str,
    params: dict[str, Any] | None = None,
    again: bool = False,
) -> AnalysisJob:
    """The job for this snapshot and these parameters, started if there is none.

    ``again`` starts a new one unless one is still queued or running (a failed or finished
    job is rerun only when asked, so a page reload never repeats the work).
    """
    job = job_latest(study=study, kind=kind, snapshot=snapshot, params=params)
    if job is not None and (not again or job.status in (JobStatus.QUEUED, JobStatus.RUNNING)):
        return job
    return job_create(study=study, kind=kind, actor=actor, snapshot=snapshot, params=params)


def job_execute(job: AnalysisJob) -> AnalysisJob:
    """Run a non-report job (the task's body): running, then complete or failed."""
    if job.status in (JobStatus.COMPLETE, JobStatus.FAILED):
        return job
    runner = RUNNERS[job.kind]
    AnalysisJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, started_at=timezone.now(), progress=1, modified=timezone.now()
    )
    job.refresh_from_db()
    try:
        result, produced = runner(job, Progress(job.pk))
    except (
        Exception
    ) as exc:  # a job that fails must leave a failed job with its error, not a hung one
        logger.exception("analysis job %s (%s) failed", job.pk, job.kind)
        AnalysisJob.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            finished_at=timezone.now(),
            modified=timezone.now(),
        )
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    if produced is not None:
        name, content = produced
        job.file.save(name, ContentFile(content), save=False)
    job.result = result
    job.status = JobStatus.COMPLETE
    job.progress = 100
    job.done = job.total = max(job.total, 1)
    job.finished_at = timezone.now()
    job.error = ""
    job.save(
        update_fields=[
            "file",
            "result",
            "status",
            "progress",
            "done",
            "total",
            "finished_at",
            "error",
            "modified",
        ]
    )
    return job


def fingerprint(parts: list[Any]) -> str:
    """A SHA-256 over the string forms of ``parts`` (the snapshot of a non-report job)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(str(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()
