"""The planner's API and page: typed components give RJafroc's Van Dyke figures."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.analysis.helpers import make_study

pytestmark = pytest.mark.django_db

VANDYKE = {
    "var_tr": 0.0002004025,
    "var_error": 0.0008022883,
    "cov1": 0.0003466137,
    "cov2": 0.0003440748,
    "cov3": 0.0002390284,
    "n_cases": 114,
}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_api_cases_for_power_from_typed_components() -> None:
    study, users = make_study(cases_per_dataset=4, sweeps=0)
    url = reverse("planner:api", args=[study.pk])
    body = {
        "components": VANDYKE,
        "readers": 10,
        "power": 0.8,
        "effect": 0.043800322,
        "analysis": "RRRC",
        "method": "OR",
    }
    response = _client(users["statistician"]).post(url, body, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["result"]["cases"] == 163
    frrc = (
        _client(users["statistician"])
        .post(url, body | {"analysis": "FRRC"}, content_type="application/json")
        .json()
    )
    assert frrc["result"]["cases"] == 131 and frrc["result"]["df_den"] is None
    missing = _client(users["statistician"]).post(
        url, {"components": VANDYKE, "readers": 10}, content_type="application/json"
    )
    assert missing.status_code == 400


def test_api_refuses_readers_and_unlocked_pilots() -> None:
    study, users = make_study(cases_per_dataset=4, sweeps=0)
    url = reverse("planner:api", args=[study.pk])
    reader = _client(users["junior1"]).post(
        url,
        {"components": VANDYKE, "readers": 5, "cases": 100, "effect": 0.05},
        content_type="application/json",
    )
    assert reader.status_code == 403
    draft = _client(users["statistician"]).post(
        url,
        {"pilot_study": str(study.pk), "readers": 5, "cases": 100},
        content_type="application/json",
    )
    assert draft.status_code == 403


def test_page_shows_the_plan() -> None:
    study, users = make_study(cases_per_dataset=4, sweeps=0)
    url = reverse("planner:page", args=[study.pk])
    client = _client(users["statistician"])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "method": "OR",
            "analysis": "RRRC",
            "readers": 10,
            "power": 0.8,
            "effect": 0.043800322,
            "alpha": 0.05,
            **VANDYKE,
        },
    )
    assert response.status_code == 200
    assert b'id="plan-cases">163<' in response.content
