"""Celery tasks of the analysis app (thin: load by pk, call a service)."""

from __future__ import annotations

from django.db import OperationalError

from config.celery import project_task


@project_task(retry_on=(OperationalError,))
def run_analysis_job(*, job_id: str) -> str:
    """Compute one queued report job; running it twice changes nothing the second time."""
    from analysis.services import analysis_job_run

    return analysis_job_run(job_id=job_id).status
