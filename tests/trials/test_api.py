"""The trials REST API: studies, transitions, sites, datasets, members, cases, audit."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.trials.factories import PASSWORD, UserFactory, grant_study_creation
from trials.models import AuditEvent, Case, Membership, Role, Study

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(coordinator: Any) -> APIClient:
    coordinator = grant_study_creation(coordinator)
    client = APIClient()
    client.force_authenticate(coordinator)
    return client


def test_create_study_and_walk_its_states(api: APIClient, coordinator: Any) -> None:
    response = api.post(
        "/api/studies/",
        {
            "title": "Crossover",
            "design": "assisted_crossover",
            "registry_id": "ChiCTR2400000001",
            "cine_fps": 24,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft" and body["cine_fps"] == 24
    study_id = body["id"]
    assert Membership.objects.filter(
        study_id=study_id, user=coordinator, role=Role.COORDINATOR
    ).exists()
    assert [s["id"] for s in api.get("/api/studies/").json()["results"]] == [study_id]
    url = f"/api/studies/{study_id}/transition/"
    sign = {"password": PASSWORD, "meaning": "approval"}
    assert api.post(url, {"to": "locked", **sign}, format="json").status_code == 400
    for to in ("open", "locked"):
        assert api.post(url, {"to": to, **sign}, format="json").json()["status"] == to
    refused = api.post(url, {"to": "unblinded", **sign}, format="json")
    assert refused.status_code == 400 and "reason" in str(refused.json())
    body = {"to": "unblinded", "reason": "analysis plan done", **sign}
    assert api.post(url, body, format="json").status_code == 200
    assert api.post(url, {"to": "draft"}, format="json").status_code == 400
    assert Study.objects.get(pk=study_id).status == "unblinded"
    actions = list(AuditEvent.objects.filter(study_id=study_id).values_list("action", flat=True))
    assert actions[:2] == ["study.created", "membership.added"]
    assert actions.count("study.status_changed") == 2 and actions[-1] == "study.unblinded"


def test_study_create_validates(api: APIClient) -> None:
    response = api.post(
        "/api/studies/", {"title": "", "design": "freestyle", "cine_fps": 0}, format="json"
    )
    assert response.status_code == 400
    assert {"title", "design", "cine_fps"} <= set(response.json())


def test_sites_datasets_members(api: APIClient, study: Any) -> None:
    base = f"/api/studies/{study.pk}"
    site = api.post(f"{base}/sites/", {"name": "Hospital B"}, format="json")
    assert site.status_code == 201
    assert (
        api.post(f"{base}/sites/", {"name": "Hospital B"}, format="json").status_code == 400
    )  # unique
    dataset = api.post(
        f"{base}/datasets/",
        {"name": "External", "kind": "external", "site": site.json()["id"]},
        format="json",
    )
    assert dataset.status_code == 201, dataset.content
    assert (
        api.post(f"{base}/datasets/", {"name": "X", "kind": "nope"}, format="json").status_code
        == 400
    )
    names = {d["name"]: d["case_count"] for d in api.get(f"{base}/datasets/").json()["results"]}
    assert names == {"External": 0, "Internal test": 0}
    UserFactory(username="junior1")
    member = api.post(f"{base}/members/", {"user": "junior1", "role": "reader"}, format="json")
    assert member.status_code == 202 and member.json()["username"] == "junior1"
    # An unknown username gets the same answer (enrolment reveals no usernames).
    assert (
        api.post(f"{base}/members/", {"user": "ghost", "role": "reader"}, format="json").status_code
        == 202
    )
    roles = {(m["username"], m["role"]) for m in api.get(f"{base}/members/").json()["results"]}
    assert roles == {("coord", "coordinator"), ("junior1", "reader")}


def test_cases_create_list_detail_exclude(api: APIClient, study: Any) -> None:
    base = f"/api/studies/{study.pk}"
    dataset = study.datasets.get()
    response = api.post(
        f"{base}/cases/",
        {
            "code": "C-1",
            "dataset": str(dataset.pk),
            "conditions": ["ivh"],
            "ivh_grade": 3,
            "ga_weeks": 29,
            "ga_days": 4,
            "sex": "M",
            "probe_type": "microconvex",
            "transducer_mhz": 8.0,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    case = response.json()
    assert case["gold_standard"] == {
        "conditions": ["ivh"],
        "ivh_grade": 3,
        "volpe_grade": "",
        "severe": True,
    }
    bad = api.post(
        f"{base}/cases/",
        {"code": "C-2", "dataset": str(dataset.pk), "conditions": ["ivh"]},
        format="json",
    )
    assert bad.status_code == 400 and "Papile" in str(bad.json())
    dup = api.post(
        f"{base}/cases/",
        {"code": "C-1", "dataset": str(dataset.pk), "conditions": ["normal"]},
        format="json",
    )
    assert dup.status_code == 400
    assert [c["code"] for c in api.get(f"{base}/cases/").json()["results"]] == ["C-1"]
    detail = api.get(f"{base}/cases/{case['id']}/").json()
    assert detail["assets"] == [] and detail["renditions"] == []
    assert api.get(f"{base}/cases/not-a-uuid/").status_code == 404
    assert (
        api.post(f"{base}/cases/{case['id']}/exclude/", {"reason": ""}, format="json").status_code
        == 400
    )
    excluded = api.post(
        f"{base}/cases/{case['id']}/exclude/", {"reason": "blind sweep unreadable"}, format="json"
    )
    assert excluded.json()["excluded"] is True
    assert Case.objects.get(pk=case["id"]).exclusion_reason == "blind sweep unreadable"


def test_audit_and_materials_listing(api: APIClient, study: Any) -> None:
    audit = api.get(f"/api/studies/{study.pk}/audit/")
    assert audit.status_code == 200
    rows = audit.json()["results"]
    assert {r["action"] for r in rows} >= {"study.created", "site.created", "dataset.created"}
    assert all(len(r["hash"]) == 64 for r in rows)
    assert api.get(f"/api/studies/{study.pk}/materials/").json()["results"] == []


def test_malformed_ids_are_404(api: APIClient) -> None:
    assert api.get("/api/studies/not-a-uuid/").status_code == 404
    assert api.post("/api/studies/not-a-uuid/transition/", {"to": "open"}).status_code == 404
