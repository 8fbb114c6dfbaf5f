"""Run a server and a background builder together; stop the builder when the server stops.

Pure (no Django), so the demo's wrapper (``manage.py serve_demo``) is tested with fake
commands. The server runs in the foreground; whenever it ends (it exits, Ctrl-C, SIGTERM
or SIGHUP to this process), both children are terminated (SIGTERM, then SIGKILL after
``grace`` seconds) before this returns. The builder ending first leaves the server running.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any


class _Stop(Exception):
    """A termination signal arrived."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signum)


def stop_process(process: subprocess.Popen[Any], *, grace: float = 10.0) -> int:
    """Terminate ``process`` (SIGTERM, then SIGKILL after ``grace`` s); return its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def run_with_builder(
    server: Sequence[str],
    builder: Sequence[str],
    *,
    grace: float = 10.0,
    on_builder_exit: Callable[[int], None] | None = None,
    poll: float = 0.5,
    builder_delay: float = 0.0,
) -> int:
    """Run ``server`` until it ends, ``builder`` beside it; return the server's exit code.

    The builder starts ``builder_delay`` seconds after the server (so the server's start is
    not slowed by the builder's); ``on_builder_exit(code)`` is called once when the builder
    ends before the server.
    """
    handled = (signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.signal(signum, _raise_stop) for signum in handled}
    builder_process: subprocess.Popen[Any] | None = None
    server_process: subprocess.Popen[Any] | None = None
    code = 0
    try:
        server_process = subprocess.Popen(list(server))
        builder_at = time.monotonic() + builder_delay
        reported = False
        while (code_or_none := server_process.poll()) is None:
            if builder_process is None and time.monotonic() >= builder_at:
                builder_process = subprocess.Popen(list(builder))
            if builder_process is not None and not reported and builder_process.poll() is not None:
                reported = True
                if on_builder_exit is not None:
                    on_builder_exit(builder_process.returncode)
            time.sleep(poll)
        code = code_or_none
    except KeyboardInterrupt:
        code = 130
    except _Stop as stop:
        code = 128 + stop.signum
    finally:
        # Ctrl-C reached the children too; SIGTERM (or a server that ended) did not.
        for process in (server_process, builder_process):
            if process is not None:
                try:
                    stop_process(process, grace=grace)
                except KeyboardInterrupt:
                    process.kill()
                    process.wait()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code
