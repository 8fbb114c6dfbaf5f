"""Queueing a task by its registered name: the right task, on commit, eager in tests.

The services queue the tasks whose bodies call them by name (an import of the task's
module would be an import cycle), so these check that a name finds its task in every
process, that the task runs when the transaction commits (eagerly here, as ``delay``
would), and that a wrong name fails in the caller rather than after the commit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from celery.exceptions import NotRegistered

from config.celery import registered_task, task_queue_on_commit

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db

#: The tasks the services queue by name.
QUEUED_BY_NAME = (
    "trials.tasks.make_asset_rendition",
    "readers.tasks.notify_washout_ended",
    "analysis.tasks.run_analysis_job",
)


def test_the_named_task_is_queued_with_its_options_once_committed(
    django_capture_on_commit_callbacks: Any,
) -> None:
    task = registered_task("readers.tasks.notify_washout_ended")
    opens = datetime(2030, 1, 1, tzinfo=UTC)
    with (
        mock.patch.object(task, "apply_async") as queued,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        task_queue_on_commit(
            "readers.tasks.notify_washout_ended", kwargs={"session_id": "s1"}, eta=opens
        )
        assert not queued.called  # not before the commit
    assert len(callbacks) == 1
    queued.assert_called_once_with(kwargs={"session_id": "s1"}, eta=opens)


def test_the_named_task_runs_eagerly_on_commit(django_capture_on_commit_callbacks: Any) -> None:
    with (
        mock.patch("readers.notifications.washout_notices_sweep", return_value=3) as sweep,
        django_capture_on_commit_callbacks(execute=True),
    ):
        task_queue_on_commit("readers.tasks.washout_notices_sweep", kwargs={})
        assert not sweep.called
    sweep.assert_called_once_with()


def test_an_unknown_name_is_refused_in_the_caller(django_capture_on_commit_callbacks: Any) -> None:
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(NotRegistered),
    ):
        task_queue_on_commit("readers.tasks.no_such_task", kwargs={})
    assert callbacks == []


def test_a_process_that_never_imported_the_tasks_finds_them_by_name() -> None:
    # A web process imports no app's tasks module at start (a worker imports them all).
    code = (
        "import sys, django; django.setup()\n"
        f"names = {QUEUED_BY_NAME!r}\n"
        "assert not {n.rpartition('.')[0] for n in names} & set(sys.modules)\n"
        "from config.celery import registered_task\n"
        "print(*(registered_task(n).name for n in names))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == list(QUEUED_BY_NAME)
