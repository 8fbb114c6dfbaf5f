"""Shared fixtures for the whole suite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

#: Set by .ci/run: tests that need real services fail instead of skipping when absent.
REQUIRE_SERVICES = os.environ.get("FONTANELLE_REQUIRE_SERVICES") == "1"

# Several xdist workers share the cores, each running PyTorch with as many OpenMP threads as
# there are cores. OpenMP's idle threads spin at every barrier, and a spinning thread holds a
# core another process needs: on 2 cores two workers' torch work ran 3.4x slower than with
# passive waits (a worker beside a busy single-threaded test: 2.3x). libgomp reads this
# when torch is first imported, which is after this conftest; the Celery worker processes the
# worker tests start inherit it. A run without xdist keeps the default (spinning is ~15 %
# faster when torch has the cores to itself).
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _xdist_group(item: pytest.Item) -> str | None:
    """The ``xdist_group`` names of ``item`` joined as pytest-xdist joins them, or None."""
    names = {
        str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        for mark in item.iter_markers("xdist_group")
    }
    return "_".join(sorted(names)) or None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give ``--dist loadgroup`` the group of every ``xdist_group`` test.

    The scheduler reads a test's group from a ``@group`` suffix of its node id, which
    pytest-xdist 3.8 adds by assigning ``item._nodeid``; pytest 9.2 keeps the id in
    ``item._id`` and ignores that, so no test had a group and the tests of one group were
    spread over both workers (pytest-dev/pytest-xdist#1386). Here the suffix is set on the id
    pytest reads, unless xdist already did. The ids are the same on every worker.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        group = _xdist_group(item)
        if group is None or item.nodeid.endswith(f"@{group}"):
            continue
        item._id = type(item._id).parse(f"{item.nodeid}@{group}")


def skip_or_fail(reason: str) -> None:
    """Skip on a developer machine without the service; fail in CI where it must exist."""
    if REQUIRE_SERVICES:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _default_language_after_each_test() -> Iterator[None]:
    """Each test starts in the default language (settings.LANGUAGE_CODE).

    LocaleMiddleware and the user-language middleware activate a request's language in the
    thread and nothing deactivates it after the response (a server activates one on every
    request); in the test process it would outlive the test, so a later test that calls a
    service directly would get the last request's language (e.g. messages in Chinese).
    """
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


# ---- browser tests (Playwright driving Debian's headless Chromium) ----

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium (Playwright sync API); skips, or fails in CI, without it."""
    if not os.path.exists(CHROMIUM):
        skip_or_fail(f"{CHROMIUM} is not installed")
    # Playwright's sync API runs an event loop in this thread; Django's ORM refuses
    # sync calls from a thread with a running loop unless told otherwise.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


def wait_until_true(page, expression: str, timeout_s: float = 30.0) -> None:
    """Poll a JavaScript expression until it is truthy.

    Not ``page.wait_for_function``: when its first evaluation is false it keeps polling with
    a string evaluated inside the page, which the site's CSP (no 'unsafe-eval') refuses, so
    the test failed whenever the page was a moment slow. ``page.evaluate`` goes through the
    DevTools protocol, which the CSP does not govern.
    """
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_s:.0f} s: {expression}")
        time.sleep(0.05)


def browser_login(context, live_server, user) -> None:
    """Log ``user`` in to a Playwright browser context with a session cookie."""
    from urllib.parse import urlparse

    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    host = urlparse(live_server.url).hostname
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "domain": host,
                "path": "/",
            }
        ]
    )


@pytest.fixture
def browser_viewport() -> dict[str, int]:
    """The viewport of :func:`page_for` pages (the workstation's smallest supported size);
    a test module overrides this fixture for another."""
    return {"width": 1280, "height": 800}


@pytest.fixture
def page_for(chromium, live_server, browser_viewport):
    """``make(user)``: a logged-in page of its own browser context."""
    contexts = []

    def make(user):
        context = chromium.new_context(viewport=browser_viewport)
        contexts.append(context)
        browser_login(context, live_server, user)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield make
    # Leave every page first: its last activity beacon (pagehide) must reach the server
    # before the test database is flushed.
    for context in contexts:
        for page in context.pages:
            page.goto("about:blank")
    time.sleep(0.5)
    for context in contexts:
        context.close()


# --- a real Celery worker (tests marked celery_worker) --------------------------------------

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORKER_QUEUES = "default,inference"
WORKER_START_TIMEOUT = 60.0


def _xdist_index(worker_id: str) -> int:
    """0 for the controller or a run without xdist, n for ``gw<n>``."""
    return int(worker_id[2:]) if worker_id.startswith("gw") else 0


def _broker_for(base_url: str, worker_id: str) -> str:
    """The broker URL of this xdist worker: its own Redis database (2 + gw index)."""
    from kombu.utils.url import url_to_parts

    parts = url_to_parts(base_url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 6379
    auth = f":{quote(parts.password)}@" if parts.password else ""
    return f"redis://{auth}{host}:{port}/{2 + _xdist_index(worker_id)}"


def _redis_answers(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:
        return False


def _database_url(settings_dict: dict[str, Any]) -> str:
    """A DATABASE_URL for the connection's (test) database."""
    user = quote(settings_dict.get("USER") or "")
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{quote(password)}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{quote(settings_dict['NAME'])}"


class CeleryWorkerProcess:
    """A real ``celery worker`` subprocess for one test: prefork, one child, both queues."""

    def __init__(self, *, env: dict[str, str], name: str, log_path: Path) -> None:
        self.env = env
        self.name = name
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the worker and wait until it consumes."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                WORKER_QUEUES,
                "--concurrency",
                "1",
                "--pool",
                "prefork",
                "--loglevel",
                "INFO",
                "--hostname",
                self.name,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Celery worker exited early:\n{self.log()}")
            with self.log_path.open("rb") as handle:
                handle.seek(offset)
                if b" ready." in handle.read():
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"the Celery worker did not start in {WORKER_START_TIMEOUT} s:\n{self.log()}"
        )

    def children(self) -> list[int]:
        """Process ids of the worker's pool children."""
        if self.process is None:
            return []
        pid = self.process.pid
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def kill(self) -> list[int]:
        """SIGKILL the worker's pool children (as if a task's process died mid-task)."""
        killed = []
        for child in self.children():
            try:
                os.kill(child, signal.SIGKILL)
                killed.append(child)
            except ProcessLookupError:
                pass
        return killed

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the worker (warm shutdown, then SIGKILL of its whole process group)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def restart(self) -> None:
        """Stop and start the worker again (unacknowledged tasks are redelivered)."""
        self.stop()
        self.start()

    def log(self) -> str:
        """The worker's output so far (for assertion messages)."""
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return ""


@pytest.fixture
def celery_worker_process(
    transactional_db: None, worker_id: str, tmp_path: Path
) -> Iterator[CeleryWorkerProcess]:
    """A real Celery worker on the test database, for ``django_db(transaction=True)`` tests.

    Needs PostgreSQL (a worker cannot share an in-memory SQLite database) and Redis at
    CELERY_BROKER_URL; otherwise the test is skipped (failed in CI). Each xdist worker uses
    its own Redis database so queues never mix. Tasks queued by the test go to the worker
    (``task_always_eager`` is off for the test and restored after it).
    """
    from django.conf import settings
    from django.db import connection

    from config.celery import app

    if connection.vendor != "postgresql":
        skip_or_fail("a real Celery worker needs PostgreSQL (DATABASE_URL)")
    base_broker = os.environ.get("CELERY_BROKER_URL", "")
    if not base_broker.startswith("redis://") or not _redis_answers(base_broker):
        skip_or_fail(
            f"a real Celery worker needs Redis at CELERY_BROKER_URL ({base_broker or 'unset'})"
        )
    broker = _broker_for(base_broker, worker_id)
    import redis

    redis.Redis.from_url(broker).flushdb()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": _database_url(connection.settings_dict),
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DJANGO_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    # The app reads Django settings under the CELERY_ namespace: overrides must use the
    # namespaced keys, or the settings' values keep winning (tasks would run eagerly here).
    keys = ("task_always_eager", "broker_url", "result_backend")
    saved = {f"CELERY_{key.upper()}": app.conf[key] for key in keys}
    # Celery lets the CELERY_BROKER_URL environment variable override any configured broker.
    saved_environ = {
        key: os.environ.get(key) for key in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
    }
    os.environ["CELERY_BROKER_URL"] = os.environ["CELERY_RESULT_BACKEND"] = broker
    app.close()  # drop pooled connections to the previous broker
    app.conf.update(
        CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL=broker, CELERY_RESULT_BACKEND=broker
    )
    worker = CeleryWorkerProcess(
        env=env, name=f"test-{worker_id}@%h", log_path=tmp_path / "celery-worker.log"
    )
    try:
        if app.conf.task_always_eager or app.conf.broker_url != broker:
            pytest.fail(
                f"the Celery app still points at {app.conf.broker_url}, not the test broker {broker}"
            )
        worker.start()
        yield worker
    finally:
        worker.stop()
        app.close()
        app.conf.update(**saved)
        for key, value in saved_environ.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        redis.Redis.from_url(broker).flushdb()
