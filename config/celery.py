"""The Celery application, the project's one task decorator, and queueing a task by name."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from celery import Celery, Task
from celery.schedules import crontab
from django.db import transaction

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


def registered_task(name: str) -> Task:
    """The task registered as ``name`` (``module.function`` unless the task names itself).

    A process that has not imported an app's tasks module yet (the web process; a worker
    imports them all at start) discovers every installed app's ``tasks`` module first.
    ``celery.exceptions.NotRegistered`` for a name no app declares.
    """
    if name not in app.tasks:
        app.autodiscover_tasks(force=True)
    return app.tasks[name]


def task_queue_on_commit(name: str, *, kwargs: dict[str, Any], **options: Any) -> None:
    """Queue the task registered as ``name`` when the current transaction commits.

    How a service queues a task whose body calls the services, without importing the
    task's module (that would be an import cycle). ``options`` go to ``apply_async``
    (``eta``, ``countdown``, ...); an eager app (``CELERY_TASK_ALWAYS_EAGER``) runs the task
    on commit, as ``delay`` would. An unknown name raises at once, in the caller's
    transaction, rather than after the commit.
    """
    task = registered_task(name)
    transaction.on_commit(lambda: task.apply_async(kwargs=kwargs, **options))
