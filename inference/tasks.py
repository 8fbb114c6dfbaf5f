"""Celery tasks of the inference app (the ``inference`` queue, for GPU workers)."""

from __future__ import annotations

from django.db import OperationalError

from config.celery import INFERENCE_QUEUE, project_task


@project_task(queue=INFERENCE_QUEUE, retry_on=(OperationalError,))
def build_ai_material(*, case_id: str, model_version_id: str, run_id: str | None = None) -> str:
    """Build one case's AI MaterialSet (idempotent per case and model version)."""
    from inference.services import ai_case_build

    result = ai_case_build(case_id=case_id, model_version_id=model_version_id, run_id=run_id)
    return result.status
