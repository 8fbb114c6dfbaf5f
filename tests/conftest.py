"""Shared fixtures for the whole suite."""

from __future__ import annotations

import os

import pytest

#: Set by .ci/run: tests that need real services fail instead of skipping when absent.
REQUIRE_SERVICES = os.environ.get("FONTANELLE_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip on a developer machine without the service; fail in CI where it must exist."""
    if REQUIRE_SERVICES:
        pytest.fail(reason)
    pytest.skip(reason)


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
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def browser_login(context, live_server, user) -> None:
    """Log ``user`` in to a Playwright browser context with a session cookie."""
    from urllib.parse import urlparse

    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    host = urlparse(live_server.url).hostname
    context.add_cookies([{
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "domain": host,
        "path": "/",
    }])
