"""Fixtures of the accounts tests: a study with its coordinator, links from the mail outbox."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.trials.factories import UserFactory
from trials import services
from trials.models import StudyDesign


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def coordinator(db: None) -> Any:
    return UserFactory(username="coord")


@pytest.fixture
def study(coordinator: Any) -> Any:
    return services.study_create(
        actor=coordinator, title="Invitations study", design=StudyDesign.STANDALONE
    )


def link_in(message: Any) -> str:
    """The path of the only http(s) link in an e-mail's body."""
    links = re.findall(r"https?://[^\s]+", message.body)
    assert len(links) == 1, message.body
    return re.sub(r"^https?://[^/]+", "", links[0])
