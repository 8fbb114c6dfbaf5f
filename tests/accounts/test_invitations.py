"""Invitations by e-mail: service, pages and API; a used, expired or withdrawn link is refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from accounts import services
from accounts.hashing import sha256_hex
from accounts.models import Invitation
from tests.accounts.conftest import link_in
from tests.trials.factories import PASSWORD, UserFactory
from trials import services as trial_services
from trials.models import AuditAction, AuditEvent, Membership, ReaderTier, Role

pytestmark = pytest.mark.django_db(transaction=False)

NEW_PASSWORD = "a-new-long-password-5678"
BASE = "http://testserver"


def _invite(coordinator: Any, study: Any, email: str = "new.reader@example.org", **kw: Any):
    kw.setdefault("role", Role.READER)
    with_tier = (
        {"tier": ReaderTier.JUNIOR, "years_experience": 2} if kw["role"] == Role.READER else {}
    )
    return services.invitation_create(
        actor=coordinator, study=study, email=email, base_url=BASE, **{**with_tier, **kw}
    )


def test_invitation_by_service_makes_an_account_and_a_membership_once(
    coordinator: Any, study: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        issued = _invite(coordinator, study)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new.reader@example.org"]
    assert link_in(mail.outbox[0]) == f"/accounts/invitations/{issued.token}/"
    invitation = Invitation.objects.get()
    # Only the hash of the one-time token is stored.
    assert invitation.token_sha256 == sha256_hex(issued.token)
    assert issued.token not in str(Invitation.objects.values().get())

    membership = services.invitation_accept(
        token=issued.token, username="newreader", password=NEW_PASSWORD
    )
    user = get_user_model().objects.get(username="newreader")
    assert user.email == "new.reader@example.org" and user.check_password(NEW_PASSWORD)
    assert (membership.user, membership.role, membership.tier) == (
        user,
        Role.READER,
        ReaderTier.JUNIOR,
    )
    invitation.refresh_from_db()
    assert invitation.used_at is not None and invitation.accepted_by == user
    actions = list(AuditEvent.objects.filter(study=study).values_list("action", flat=True))
    assert AuditAction.INVITATION_SENT in actions and AuditAction.INVITATION_ACCEPTED in actions
    assert AuditAction.MEMBERSHIP_ADDED in actions

    with pytest.raises(services.InvitationRefused) as refused:
        services.invitation_accept(token=issued.token, username="again", password=NEW_PASSWORD)
    assert refused.value.code == "used"
    assert not get_user_model().objects.filter(username="again").exists()


def test_expired_withdrawn_and_unknown_links_are_refused(coordinator: Any, study: Any) -> None:
    expired = _invite(coordinator, study, email="late@example.org")
    Invitation.objects.filter(pk=expired.invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(services.InvitationRefused) as refused:
        services.invitation_accept(token=expired.token, username="late", password=NEW_PASSWORD)
    assert refused.value.code == "expired"

    first = _invite(coordinator, study, email="twice@example.org")
    second = _invite(coordinator, study, email="twice@example.org")  # replaces the first
    with pytest.raises(services.InvitationRefused) as refused:
        services.invitation_accept(token=first.token, username="twice", password=NEW_PASSWORD)
    assert refused.value.code == "withdrawn"
    services.invitation_accept(token=second.token, username="twice", password=NEW_PASSWORD)

    with pytest.raises(services.InvitationRefused) as refused:
        services.invitation_accept(token="not-a-token", username="x", password=NEW_PASSWORD)
    assert refused.value.code == "unknown"
    assert not Membership.objects.filter(user__username__in=["late", "x"]).exists()


def test_an_existing_account_is_not_duplicated_and_must_log_in(
    coordinator: Any, study: Any
) -> None:
    existing = UserFactory(username="known", email="Known@Example.org")
    issued = _invite(coordinator, study, email="known@example.org", role=Role.STATISTICIAN)
    with pytest.raises(services.InvitationRefused) as refused:
        services.invitation_accept(token=issued.token, username="known2", password=NEW_PASSWORD)
    assert refused.value.code == "login"
    other = UserFactory(username="other", email="other@example.org")
    with pytest.raises(services.InvitationRefused) as refused:
        services.invitation_accept(token=issued.token, user=other)
    assert refused.value.code == "other_account"

    users_before = get_user_model().objects.count()
    membership = services.invitation_accept(token=issued.token, user=existing)
    assert membership.user == existing and membership.role == Role.STATISTICIAN
    assert get_user_model().objects.count() == users_before


def test_separation_of_duties_refuses_and_leaves_the_link_unused(
    coordinator: Any, study: Any
) -> None:
    coordinator.email = "coord@example.org"
    coordinator.save()
    issued = _invite(coordinator, study, email="coord@example.org")  # as a reader of his own study
    with pytest.raises(ValidationError, match="reader may not also be"):
        services.invitation_accept(token=issued.token, user=coordinator)
    assert Invitation.objects.get().used_at is None
    assert not Membership.objects.filter(user=coordinator, role=Role.READER).exists()


def test_weak_password_or_taken_username_is_refused(coordinator: Any, study: Any) -> None:
    UserFactory(username="taken", email="taken@example.org")
    issued = _invite(coordinator, study)
    with pytest.raises(ValidationError) as invalid:
        services.invitation_accept(token=issued.token, username="taken", password="short")
    assert set(invalid.value.message_dict) == {"username", "password"}
    assert Invitation.objects.get(pk=issued.invitation.pk).used_at is None


def test_invitation_through_the_pages(
    coordinator: Any, study: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = Client()
    client.force_login(coordinator)
    people = f"/studies/{study.pk}/people/"
    assert client.get(people).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{people}invite/",
            {
                "email": "web@example.org",
                "role": Role.READER,
                "tier": ReaderTier.SENIOR,
                "years_experience": 9,
            },
        )
    assert response.status_code == 302
    page = client.get(people).content.decode()
    assert "web@example.org" in page and "pending" in page
    link = link_in(mail.outbox[-1])

    invitee = Client()
    landing = invitee.get(link)
    assert landing.status_code == 200 and b"Invitations study" in landing.content
    bad = invitee.post(
        link, {"username": "webreader", "password1": NEW_PASSWORD, "password2": "other"}
    )
    assert (
        bad.status_code == 400
        and not get_user_model().objects.filter(username="webreader").exists()
    )
    done = invitee.post(
        link,
        {"username": "webreader", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        follow=True,
    )
    assert done.status_code == 200 and "Welcome" in done.content.decode()
    membership = Membership.objects.get(user__username="webreader")
    assert (membership.role, membership.tier, membership.years_experience) == (
        Role.READER,
        ReaderTier.SENIOR,
        9,
    )

    again = Client().get(link)
    assert again.status_code == 410 and "already been used" in again.content.decode()
    invitation = Invitation.objects.get()
    Invitation.objects.filter(pk=invitation.pk).update(
        used_at=None, accepted_by=None, expires_at=timezone.now() - timedelta(days=1)
    )
    expired = Client().get(link)
    assert expired.status_code == 410 and "expired" in expired.content.decode()
    assert Client().get("/accounts/invitations/nonsense/").status_code == 404


def test_an_existing_account_logs_in_then_accepts_on_the_page(coordinator: Any, study: Any) -> None:
    UserFactory(username="member", email="member@example.org")
    issued = _invite(coordinator, study, email="member@example.org", role=Role.STATISTICIAN)
    link = f"/accounts/invitations/{issued.token}/"
    client = Client()
    page = client.get(link).content.decode()
    assert "Log in to accept" in page and 'name="password1"' not in page
    assert client.post(link).status_code == 403  # not logged in: nothing happens
    response = client.post(
        "/accounts/login/", {"username": "member", "password": PASSWORD, "next": link}
    )
    assert response.status_code == 302 and response["Location"] == link
    assert "Accept the invitation" in client.get(link).content.decode()
    assert client.post(link).status_code == 302
    assert Membership.objects.filter(user__username="member", role=Role.STATISTICIAN).exists()
    assert get_user_model().objects.filter(email__iexact="member@example.org").count() == 1


def test_invitation_through_the_api(
    coordinator: Any, study: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = Client()
    client.force_login(coordinator)
    url = f"/api/studies/{study.pk}/invitations/"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {
                "email": "api@example.org",
                "role": "reader",
                "tier": "mid_level",
                "years_experience": 4,
            },
            content_type="application/json",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "pending" and "token" not in body
    assert client.get(url).json()[0]["email"] == "api@example.org"
    token = link_in(mail.outbox[-1]).rstrip("/").rsplit("/", 1)[-1]

    anonymous = Client()
    accept = anonymous.post(
        "/api/invitations/accept/",
        {"token": token, "username": "apireader", "password": NEW_PASSWORD},
        content_type="application/json",
    )
    assert accept.status_code == 201, accept.content
    assert accept.json()["role"] == "reader" and accept.json()["username"] == "apireader"
    assert Membership.objects.get(user__username="apireader").tier == ReaderTier.MID_LEVEL
    again = anonymous.post(
        "/api/invitations/accept/",
        {"token": token, "username": "apireader2", "password": NEW_PASSWORD},
        content_type="application/json",
    )
    assert again.status_code == 410 and again.json()["code"] == "used"

    # A reader of the study may not invite; a stranger does not even see the study.
    reader = get_user_model().objects.get(username="apireader")
    client.force_login(reader)
    assert (
        client.post(
            url, {"email": "x@example.org", "role": "reader"}, content_type="application/json"
        ).status_code
        == 403
    )
    client.force_login(UserFactory(username="stranger"))
    assert client.get(url).status_code == 404


def test_withdrawing_an_invitation_by_page_and_api(coordinator: Any, study: Any) -> None:
    first = _invite(coordinator, study, email="a@example.org")
    second = _invite(coordinator, study, email="b@example.org")
    client = Client()
    client.force_login(coordinator)
    client.post(f"/studies/{study.pk}/people/invitations/{first.invitation.pk}/withdraw/")
    response = client.post(f"/api/studies/{study.pk}/invitations/{second.invitation.pk}/withdraw/")
    assert response.status_code == 200 and response.json()["state"] == "withdrawn"
    for issued in (first, second):
        assert Client().get(f"/accounts/invitations/{issued.token}/").status_code == 410
    assert AuditEvent.objects.filter(action=AuditAction.INVITATION_WITHDRAWN).count() == 2


def test_reinviting_an_ended_member_resumes_his_membership(coordinator: Any, study: Any) -> None:
    reader = UserFactory(username="back", email="back@example.org")
    membership = trial_services.membership_add(
        actor=coordinator, study=study, user=reader, role=Role.READER
    )
    trial_services.membership_end(
        actor=coordinator, membership=membership, reason="left the hospital"
    )
    issued = _invite(coordinator, study, email="back@example.org")
    resumed = services.invitation_accept(token=issued.token, user=reader)
    assert resumed.pk == membership.pk and resumed.ended_at is None
    assert AuditEvent.objects.filter(action=AuditAction.MEMBERSHIP_RESUMED).exists()
