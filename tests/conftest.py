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
