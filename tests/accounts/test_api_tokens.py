"""API tokens: shown once, stored as a hash, Bearer authentication, revocable."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.hashing import sha256_hex
from accounts.models import ApiToken
from tests.trials.factories import UserFactory
from trials import services
from trials.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


def test_a_token_made_on_the_page_authenticates_until_revoked() -> None:
    user = UserFactory(username="scripter")
    services.study_create(actor=user, title="Scripted", design="standalone")
    client = Client()
    client.force_login(user)
    page = client.post("/accounts/tokens/", {"name": "nightly export"}).content.decode()
    found = re.search(r'id="token-value">([^<]+)<', page)
    assert found is not None
    token = found.group(1)
    assert token.startswith("fnt_") and len(token) > 40
    row = ApiToken.objects.get()
    assert row.token_sha256 == sha256_hex(token) and row.prefix == token[:12]
    assert not any(token in str(v) for v in ApiToken.objects.values().get().values())
    assert token not in client.get("/accounts/tokens/").content.decode()  # shown once

    script = Client()
    assert script.get("/api/studies/").status_code == 403  # no credentials
    answer = script.get("/api/studies/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 200 and answer.json()["results"][0]["title"] == "Scripted"
    row.refresh_from_db()
    assert row.last_used_at is not None
    # A token needs no CSRF token (it is not a cookie).
    created = script.post(
        "/api/studies/",
        {"title": "x", "design": "standalone"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert created.status_code != 403 or "CSRF" not in created.content.decode()

    bad = script.get("/api/studies/", HTTP_AUTHORIZATION=f"Bearer {token[:-2]}xx")
    assert bad.status_code == 403 and "Invalid or revoked API token" in bad.json()["detail"]
    client.post(f"/accounts/tokens/{row.pk}/revoke/")
    revoked = script.get("/api/studies/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert revoked.status_code == 403 and "Invalid or revoked API token" in revoked.json()["detail"]
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {AuditAction.API_TOKEN_CREATED, AuditAction.API_TOKEN_REVOKED} <= actions


def test_tokens_through_the_api_and_only_ones_own() -> None:
    owner = UserFactory(username="owner")
    client = Client()
    client.force_login(owner)
    made = client.post("/api/tokens/", {"name": "ci"}, content_type="application/json")
    assert made.status_code == 201
    token, token_id = made.json()["token"], made.json()["id"]
    listed = client.get("/api/tokens/", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert [t["name"] for t in listed] == ["ci"] and "token" not in listed[0]

    other = Client()
    other.force_login(UserFactory(username="other"))
    assert other.post(f"/api/tokens/{token_id}/revoke/").status_code == 404
    assert other.post(f"/accounts/tokens/{token_id}/revoke/").status_code == 404

    revoked = Client().post(f"/api/tokens/{token_id}/revoke/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert Client().get("/api/tokens/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 403


def test_an_inactive_users_token_fails() -> None:
    user = UserFactory(username="gone")
    client = Client()
    client.force_login(user)
    token = client.post("/api/tokens/", {"name": "x"}, content_type="application/json").json()[
        "token"
    ]
    user.is_active = False
    user.save()
    assert Client().get("/api/tokens/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 403
