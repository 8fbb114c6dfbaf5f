"""The Celery application and the project's one task decorator."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("fontanelle")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_routes = {"inference.*": {"queue": "inference"}}
app.autodiscover_tasks()
# Celery beat (``celery -A config beat``): the daily sweep that sends washout e-mails a
# scheduled task missed (readers.notifications).
app.conf.beat_schedule = {
    "washout-notices-daily": {
        "task": "readers.tasks.washout_notices_sweep",
        "schedule": crontab(hour=6, minute=0),
        "options": {"queue": "default"},
    },
}

DEFAULT_QUEUE = "default"
INFERENCE_QUEUE = "inference"


def project_task(
    *,
    queue: str = DEFAULT_QUEUE,
    retry_on: tuple[type[BaseException], ...] = (),
    max_retries: int = 3,
    **options: Any,
) -> Callable[[Callable[..., Any]], Any]:
    """The one task decorator: late acks, requeue on worker loss, a named queue.

    Tasks must be idempotent (they may run twice after a worker dies) and take keyword-only
    primary keys. Only the listed transient errors are retried.
    """

    def decorate(func: Callable[..., Any]) -> Any:
        return app.task(
            bind=options.pop("bind", False),
            acks_late=True,
            reject_on_worker_lost=True,
            queue=queue,
            autoretry_for=retry_on,
            max_retries=max_retries,
            retry_backoff=True,
            **options,
        )(func)

    return decorate
