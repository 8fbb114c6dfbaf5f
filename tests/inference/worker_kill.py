"""Wait for a real worker to finish some cases, kill it mid-case, wait for the rest."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def kill_midway(worker: Any, done: Callable[[], int], total: int, *, timeout_s: float) -> None:
    """Let ``done()`` reach 3, kill the worker's pool child while cases remain, then wait
    until ``done()`` reaches ``total`` (or the timeout)."""
    deadline = time.monotonic() + timeout_s
    while done() < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert 3 <= done() < total, worker.log()
    assert worker.kill(), worker.log()  # the pool child dies in the middle of a case
    while done() < total and time.monotonic() < deadline:
        time.sleep(0.25)
