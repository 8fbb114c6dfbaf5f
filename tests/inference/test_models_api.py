"""The model registry API (names, versions, metrics, files) is for coordinators and statisticians."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from inference.services import model_version_register
from tests.trials.factories import MembershipFactory, StudyFactory, UserFactory
from trials.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def registered(tmp_path: Path):
    directory = tmp_path / "model"
    directory.mkdir()
    (directory / "fold0.safetensors").write_bytes(b"weights")
    (directory / "fold0.json").write_text(json.dumps({"metrics": {"auc": 0.91}}))
    return model_version_register(
        actor=None,
        name="ncls-secret",
        version="v7",
        profile="lite",
        directory=directory,
        is_demo=False,
    )


def _get(user) -> object:
    client = Client()
    client.force_login(user)
    return client.get(reverse("inference:api-models"))


def test_readers_and_members_without_a_staff_role_are_refused(registered):
    study = StudyFactory()
    reader = UserFactory(username="models-reader")
    MembershipFactory(study=study, user=reader, role=Role.READER)
    nobody = UserFactory(username="models-nobody")
    for user in (reader, nobody):
        response = _get(user)
        assert response.status_code == 403, user
        assert b"ncls-secret" not in response.content and b"0.91" not in response.content
    anonymous = Client().get(reverse("inference:api-models"))
    assert anonymous.status_code == 403  # the session comes first: no WWW-Authenticate, 403
    assert b"ncls-secret" not in anonymous.content


def test_coordinators_statisticians_and_staff_see_the_registry(registered):
    study = StudyFactory()
    coordinator = UserFactory(username="models-coordinator")
    statistician = UserFactory(username="models-statistician")
    MembershipFactory(study=study, user=coordinator, role=Role.COORDINATOR)
    MembershipFactory(study=StudyFactory(), user=statistician, role=Role.STATISTICIAN)
    staff = UserFactory(username="models-staff", is_staff=True)
    for user in (coordinator, statistician, staff):
        response = _get(user)
        assert response.status_code == 200, user
        assert [m["name"] for m in response.json()] == ["ncls-secret"]
