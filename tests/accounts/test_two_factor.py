"""TOTP two-factor login (django-otp): enrolled through the page, then asked at every login."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.trials.factories import PASSWORD, UserFactory
from trials.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


def code_of(device: Any, *, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows now (or ``steps_ahead`` periods later)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def _login(client: Client, username: str) -> Any:
    return client.post("/accounts/login/", {"username": username, "password": PASSWORD})


def test_totp_is_required_at_login_once_enrolled() -> None:
    UserFactory(username="careful")
    client = Client()
    assert _login(client, "careful")["Location"] == "/"  # no device: password only

    page = client.get("/accounts/two-factor/").content.decode()
    assert "otpauth://totp/" in page and "<svg" in page
    device = TOTPDevice.objects.get(user__username="careful", confirmed=False)
    assert client.post("/accounts/two-factor/", {"code": "000000"}).status_code in (200, 400)
    response = client.post("/accounts/two-factor/", {"code": code_of(device)})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert AuditEvent.objects.filter(action=AuditAction.TWO_FACTOR_ENABLED).exists()

    fresh = Client()
    response = _login(fresh, "careful")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/verify/"
    assert fresh.get("/").status_code == 302  # not logged in before the code
    assert fresh.get("/api/studies/").status_code == 403
    wrong = fresh.post(
        "/accounts/login/verify/", {"code": "123456" if code_of(device) != "123456" else "654321"}
    )
    assert wrong.status_code == 400
    device.refresh_from_db()
    device.throttling_failure_count = 0  # the test does not wait out django-otp's back-off
    device.throttling_failure_timestamp = None
    device.save()
    right = fresh.post("/accounts/login/verify/", {"code": code_of(device, steps_ahead=1)})
    assert right.status_code == 302 and right["Location"] == "/"
    assert fresh.get("/").status_code == 200


def test_the_pending_login_expires_and_a_code_alone_does_nothing() -> None:
    user = UserFactory(username="late")
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    client = Client()
    response = client.post("/accounts/login/verify/", {"code": code_of(device)})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    _login(client, "late")
    session = client.session
    session["accounts_pending_two_factor"]["at"] -= 3600
    session.save()
    response = client.post("/accounts/login/verify/", {"code": code_of(device)})
    assert response["Location"] == "/accounts/login/"
    assert client.get("/").status_code == 302


def test_admin_login_goes_through_the_site_login() -> None:
    response = Client().get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")
