"""Celery tasks of the trials app: thin, keyword-only pks, idempotent."""

from __future__ import annotations

from config.celery import project_task


@project_task(queue="default")
def make_asset_rendition(*, asset_id: str) -> str:
    """Make the canonical rendition of an uploaded asset (idempotent)."""
    from trials.services.renditions import rendition_make_for_asset

    return str(rendition_make_for_asset(asset_id=asset_id).pk)
