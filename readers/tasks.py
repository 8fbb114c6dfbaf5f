"""Celery tasks of the readers app (thin: load by pk, call a service)."""

from __future__ import annotations

from smtplib import SMTPException

from django.db import OperationalError

from config.celery import project_task


@project_task(retry_on=(OperationalError, SMTPException, OSError))
def notify_washout_ended(*, session_id: str) -> bool:
    """E-mail the reader that his aided session is open (idempotent; early runs send nothing)."""
    from readers.models import ReadingSession
    from readers.notifications import washout_notice_send

    session = ReadingSession.objects.select_related("study", "reader").filter(pk=session_id).first()
    return session is not None and washout_notice_send(session=session)


@project_task(retry_on=(OperationalError,))
def washout_notices_sweep() -> int:
    """The daily sweep: every due, unsent washout e-mail."""
    from readers.notifications import washout_notices_sweep as sweep

    return sweep()
