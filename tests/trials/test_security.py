"""Accounts and transport security: lockout, headers, CSP, CSRF, API docs, deploy check."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from tests.trials.factories import PASSWORD, UserFactory, grant_study_creation
from trials.models import Study

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def test_lockout_after_repeated_failed_logins() -> None:
    user = UserFactory(username="clumsy")
    client = Client()
    for _ in range(django_settings.AXES_FAILURE_LIMIT):
        response = client.post(
            "/accounts/login/", {"username": "clumsy", "password": "wrong-password-x"}
        )
        assert "_auth_user_id" not in client.session
    # Now even the right password is refused.
    response = client.post("/accounts/login/", {"username": "clumsy", "password": PASSWORD})
    assert response.status_code in (403, 429)
    assert "_auth_user_id" not in client.session
    # Another account from the same client is not locked (the address's own limit is higher).
    UserFactory(username="careful")
    response = client.post("/accounts/login/", {"username": "careful", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] != str(user.pk)


def test_login_works_and_sessions_expire() -> None:
    UserFactory(username="alice")
    client = Client()
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session.get_expire_at_browser_close()
    assert 0 < django_settings.SESSION_COOKIE_AGE <= 12 * 3600
    assert django_settings.SESSION_COOKIE_HTTPONLY


def test_strong_passwords_are_required() -> None:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ("short1", "password1234", "123456789012"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("correct horse battery staple 42")


def test_security_headers_and_csp(client: Client) -> None:
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ):
        assert directive in csp
    assert "unsafe-eval" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_csrf_is_enforced_on_forms() -> None:
    user = grant_study_creation(UserFactory(username="bob"))
    client = Client(enforce_csrf_checks=True)
    assert (
        client.post("/accounts/login/", {"username": "bob", "password": PASSWORD}).status_code
        == 403
    )
    client.force_login(user)
    data = {"title": "T", "design": "standalone", "washout_days": 28, "cine_fps": 25}
    assert client.post("/studies/new/", data).status_code == 403
    assert client.post("/api/studies/", data).status_code == 403
    assert not Study.objects.exists()
    client.get("/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    assert client.post("/studies/new/", {**data, "csrfmiddlewaretoken": token}).status_code == 302
    assert client.post("/api/studies/", data, HTTP_X_CSRFTOKEN=token).status_code == 201
    assert Study.objects.count() == 2


def test_every_form_carries_a_csrf_token(client: Client, study: Any, coordinator: Any) -> None:
    client.force_login(coordinator)
    for url in ("/", f"/studies/{study.pk}/", f"/studies/{study.pk}/import/"):
        html = client.get(url).content.decode()
        assert html.count("<form") == html.count("csrfmiddlewaretoken") > 0, url


def test_api_schema_and_docs(client: Client) -> None:
    assert client.get("/api/schema/").status_code == 403  # session auth first: 403, not 401
    client.force_login(UserFactory(username="dev"))
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "openapi:" in text and "/api/studies/{id}/transition/" in text
    assert "/api/studies/{study_pk}/cases/{id}/assets/" in text
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger" in html.lower() and "cdn.jsdelivr" not in html
    assert "<script>" not in html  # the CSP allows no inline script


def _production_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_DEBUG="0",
        DJANGO_SECURE_SSL_REDIRECT="1",
        DJANGO_SECURE_HSTS_SECONDS="31536000",
        DJANGO_SECURE_COOKIES="1",
        DJANGO_ALLOWED_HOSTS="fontanelle.example.org",
        DATABASE_URL="postgres://fontanelle@db.example.org:5432/fontanelle",
        CELERY_BROKER_URL="redis://redis.example.org:6379/0",
    )
    return env


def _deploy_check() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def deploy_check() -> subprocess.CompletedProcess[str]:
    return _deploy_check()


@pytest.mark.xdist_group("deploy-check")  # one subprocess check for both tests
def test_check_deploy_has_no_security_issue(deploy_check: subprocess.CompletedProcess[str]) -> None:
    output = deploy_check.stdout + deploy_check.stderr
    issues = [line for line in output.splitlines() if line.startswith("?:") or ": (" in line]
    security = [line for line in issues if "drf_spectacular" not in line]
    assert security == [], output


@pytest.mark.xdist_group("deploy-check")
def test_check_deploy_has_no_trials_schema_issue(
    deploy_check: subprocess.CompletedProcess[str],
) -> None:
    """The API schema's own warnings (drf-spectacular runs in the deploy check) for this app.

    Other apps' schema warnings are theirs to fix; they are not security issues.
    """
    output = deploy_check.stdout + deploy_check.stderr
    issues = [line for line in output.splitlines() if "drf_spectacular" in line]
    ours = [
        line
        for line in issues
        if "trials/" in line or "config/" in line or "/api/studies" in line or "Enum" in line
    ]
    assert ours == [], output


def test_production_refuses_the_embedded_secret_key() -> None:
    """Not a warning: production does not start with it (tests/config/test_settings.py)."""
    env = _production_env()
    del env["DJANGO_SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--tag", "security"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "DJANGO_SECRET_KEY" in result.stderr
