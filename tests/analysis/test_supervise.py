"""make demo's wrapper: the builder stops whenever the server stops (fake commands)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE = """
import os, signal, sys, time
from pathlib import Path
out = Path(sys.argv[1])
def stop(signum, frame):
    (out.parent / (out.name + ".stopped")).write_text(str(signum))
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
out.write_text(str(os.getpid()))
time.sleep(float(sys.argv[2]))
sys.exit(int(sys.argv[3]))
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for(path: Path, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text()):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return int(path.read_text())


def _start(tmp_path: Path, server_seconds: float, server_code: int = 0) -> subprocess.Popen[bytes]:
    fake = tmp_path / "fake.py"
    fake.write_text(FAKE)
    server = [
        sys.executable,
        str(fake),
        str(tmp_path / "server"),
        str(server_seconds),
        str(server_code),
    ]
    builder = [sys.executable, str(fake), str(tmp_path / "builder"), "120", "0"]
    # A process started in the background by a non-interactive shell (as CI runners may start
    # pytest) inherits SIGINT ignored, and Python then raises no KeyboardInterrupt: the fake
    # server's own handler would end it with 0. The wrapper stands for `make demo` in a
    # terminal's foreground, where Ctrl-C raises KeyboardInterrupt.
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from analysis.supervise import run_with_builder; "
        f"sys.exit(run_with_builder({server!r}, {builder!r}, grace=5, poll=0.1))"
    )
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, start_new_session=True)


def _assert_builder_stopped(tmp_path: Path, pid: int) -> None:
    assert not _alive(pid)
    assert (tmp_path / "builder.stopped").exists()


def test_builder_stops_when_the_server_exits(tmp_path: Path) -> None:
    supervisor = _start(tmp_path, server_seconds=1.5, server_code=3)
    builder = _wait_for(tmp_path / "builder")
    assert supervisor.wait(timeout=30) == 3
    _assert_builder_stopped(tmp_path, builder)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_stopping_the_wrapper_stops_server_and_builder(tmp_path: Path, how: str) -> None:
    supervisor = _start(tmp_path, server_seconds=120)
    builder = _wait_for(tmp_path / "builder")
    server = _wait_for(tmp_path / "server")
    if how == "ctrl-c":  # the terminal sends SIGINT to the whole foreground group
        os.killpg(supervisor.pid, signal.SIGINT)
    else:
        supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=30) == (130 if how == "ctrl-c" else 128 + signal.SIGTERM)
    _assert_builder_stopped(tmp_path, builder)
    assert not _alive(server)
