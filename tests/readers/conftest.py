"""Fixtures of the readers tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Rendition files of each test in its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
