"""In a real browser: an invitation accepted, and a password reset."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.core import mail

from accounts.models import Invitation
from tests.accounts.conftest import link_in
from tests.trials.factories import PASSWORD, UserFactory
from trials import services
from trials.models import Membership, Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
NEW_PASSWORD = "browser-chosen-password-4321"


def _log_in(page: Any, live_server: Any, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]:has-text('Log in')")
    page.wait_for_url(f"{live_server.url}/")


def test_an_invitation_is_sent_from_the_people_page_and_accepted(
    chromium: Any, live_server: Any
) -> None:
    coordinator = UserFactory(username="coordinator")
    study = services.study_create(
        actor=coordinator, title="Browser invitations", design="standalone"
    )
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        _log_in(page, live_server, "coordinator", PASSWORD)
        page.goto(f"{live_server.url}/studies/{study.pk}/")
        page.click("#people-link")
        page.fill("#id_email", "invited.reader@example.org")
        page.select_option("#id_role", "reader")
        page.select_option("#id_tier", "junior")
        page.click("button:has-text('Send invitation')")
        page.wait_for_selector("text=Invitation sent to invited.reader@example.org")
        assert Invitation.objects.get().state == "pending"
        assert len(mail.outbox) == 1
        link = f"{live_server.url}{link_in(mail.outbox[0])}"
    finally:
        context.close()

    invitee = chromium.new_context()
    page = invitee.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(link)
        page.wait_for_selector("text=Browser invitations")
        page.fill("#id_username", "invited")
        page.fill("#id_password1", NEW_PASSWORD)
        page.fill("#id_password2", NEW_PASSWORD)
        page.click("button:has-text('Create my account and accept')")
        page.wait_for_url(f"{live_server.url}/")
        page.wait_for_selector("text=Welcome")
        membership = Membership.objects.get(user__username="invited")
        assert (membership.study, membership.role, membership.tier) == (
            study,
            Role.READER,
            "junior",
        )
        page.goto(link)
        page.wait_for_selector("#invitation-refused")
        assert "already been used" in page.inner_text("#invitation-refused")
    finally:
        invitee.close()


def test_a_password_reset_by_e_mail(chromium: Any, live_server: Any) -> None:
    UserFactory(username="forgetful", email="forgetful@example.org")
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{live_server.url}/accounts/login/")
        page.click("#forgot-password")
        page.fill("#id_email", "forgetful@example.org")
        page.click("button:has-text('Send the link')")
        page.wait_for_selector("#reset-sent")
        assert len(mail.outbox) == 1
        link = f"{live_server.url}{link_in(mail.outbox[0])}"
        page.goto(link)
        page.fill("#id_new_password1", NEW_PASSWORD)
        page.fill("#id_new_password2", NEW_PASSWORD)
        page.click("button:has-text('Set my password')")
        page.wait_for_selector("#reset-complete")
        _log_in(page, live_server, "forgetful", NEW_PASSWORD)
        page.goto(link)
        page.wait_for_selector("#reset-invalid")
    finally:
        context.close()
