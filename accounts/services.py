"""Writes of the accounts app: invitations, API tokens and two-factor devices (audited)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.hashing import (
    API_TOKEN_PREFIX_LENGTH,
    new_api_token,
    new_invitation_token,
    same_digest,
    sha256_hex,
)
from accounts.models import ApiToken, Invitation
from trials.audit import audit_record
from trials.models import AuditAction, Membership, Role, Study
from trials.services import membership_add


class InvitationRefused(Exception):
    """The link cannot be used (unknown, used, expired, withdrawn, or another account's)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str  # the one-time secret: only in the e-mail's link, never stored
    link: str


def invitation_lifetime() -> timedelta:
    return timedelta(days=settings.FONTANELLE_INVITATION_DAYS)


def invitation_path(token: str) -> str:
    from django.urls import reverse

    return reverse("accounts:invitation", kwargs={"token": token})


@transaction.atomic
def invitation_create(
    *,
    actor: Any,
    study: Study,
    email: str,
    role: str,
    tier: str = "",
    years_experience: int = 0,
    base_url: str,
) -> IssuedInvitation:
    """Invite ``email`` to ``role`` in ``study`` and send the one-time link by e-mail.

    An earlier pending invitation of the same address to the same role is withdrawn, so
    one link works at a time. Whether the address has an account is neither checked nor
    told here: the membership is added when the link is used (``invitation_accept``).
    """
    email = get_user_model().objects.normalize_email(email.strip())
    if role not in Role.values:
        raise ValidationError(_("Unknown role."))
    if role != Role.READER and (tier or years_experience):
        raise ValidationError(_("Only a reader has a tier and years of experience."))
    now = timezone.now()
    earlier = Invitation.objects.select_for_update().filter(
        study=study, email__iexact=email, role=role, used_at__isnull=True, withdrawn_at__isnull=True
    )
    for old in earlier:
        old.withdrawn_at = now
        old.save(update_fields=["withdrawn_at"])
    token = new_invitation_token()
    invitation = Invitation(
        study=study,
        email=email,
        role=role,
        tier=tier,
        years_experience=years_experience,
        token_sha256=sha256_hex(token),
        invited_by=actor,
        expires_at=now + invitation_lifetime(),
    )
    invitation.full_clean()
    invitation.save()
    link = base_url.rstrip("/") + invitation_path(token)
    audit_record(
        actor=actor,
        action=AuditAction.INVITATION_SENT,
        target=invitation,
        after={
            "email": email,
            "role": role,
            "tier": tier,
            "years_experience": years_experience,
            "expires_at": invitation.expires_at,
            "replaces": [str(o.pk) for o in earlier],
        },
    )
    context = {
        "invitation": invitation,
        "study": study,
        "link": link,
        "inviter": actor,
        "days": settings.FONTANELLE_INVITATION_DAYS,
    }
    # In the language of the page the coordinator invites from (active for this request).
    subject = " ".join(render_to_string("accounts/invitation_subject.txt", context).split())
    body = render_to_string("accounts/invitation_email.txt", context)
    # Sent once the invitation is committed: a rolled-back invitation sends nothing.
    transaction.on_commit(lambda: send_mail(subject, body, None, [email]))
    return IssuedInvitation(invitation, token, link)


@transaction.atomic
def invitation_withdraw(*, actor: Any, invitation: Invitation) -> Invitation:
    """Withdraw a pending invitation: its link no longer works."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.state != "pending":
        raise ValidationError(_("Only a pending invitation can be withdrawn."))
    invitation.withdrawn_at = timezone.now()
    invitation.save(update_fields=["withdrawn_at"])
    audit_record(
        actor=actor,
        action=AuditAction.INVITATION_WITHDRAWN,
        target=invitation,
        after={"email": invitation.email, "role": invitation.role},
    )
    return invitation


def invitation_by_token(token: str, *, lock: bool = False) -> Invitation:
    """The invitation of a link, if it can still be used (:class:`InvitationRefused` if not)."""
    rows = Invitation.objects.select_related("study", "invited_by")
    if lock:
        rows = rows.select_for_update()
    invitation = rows.filter(token_sha256=sha256_hex(token or "")).first()
    if invitation is None or not same_digest(invitation.token_sha256, sha256_hex(token or "")):
        raise InvitationRefused(
            _("This invitation link is not valid. Check that you copied the whole link."),
            code="unknown",
        )
    if invitation.used_at is not None:
        raise InvitationRefused(
            _(
                "This invitation has already been used. Log in with the account it made, or ask "
                "the study's coordinator for a new invitation."
            ),
            code="used",
        )
    if invitation.withdrawn_at is not None:
        raise InvitationRefused(
            _("This invitation has been withdrawn by the study's coordinator."), code="withdrawn"
        )
    if invitation.expires_at <= timezone.now():
        raise InvitationRefused(
            _("This invitation has expired. Ask the study's coordinator for a new one."),
            code="expired",
        )
    return invitation


def accounts_with_email(email: str) -> list[Any]:
    """The active accounts whose e-mail address is ``email`` (any case)."""
    return list(get_user_model().objects.filter(email__iexact=email, is_active=True))


@transaction.atomic
def invitation_accept(
    *,
    token: str,
    user: Any = None,
    username: str = "",
    password: str = "",
) -> Membership:
    """Use an invitation link: the membership is added, the link never works again.

    - The address already has an account: ``user`` must be that account, logged in
      (an existing account is never duplicated); else :class:`InvitationRefused`
      with code ``login``.
    - It has none: an account is made with ``username`` and ``password`` (Django's
      password validators) and the invitation's e-mail address.

    The membership goes through ``trials.services.membership_add``, which refuses what
    the separation of duties forbids (the link stays unused then).
    """
    invitation = invitation_by_token(token, lock=True)
    existing = accounts_with_email(invitation.email)
    if getattr(user, "is_authenticated", False):
        if not any(account.pk == user.pk for account in existing):
            raise InvitationRefused(
                _(
                    "This invitation was sent to another e-mail address than your account's. "
                    "Log out, or ask the coordinator to invite your account's address."
                ),
                code="other_account",
            )
        account = user
        created = False
    elif existing:
        raise InvitationRefused(
            _("An account with this e-mail address exists: log in to accept the invitation."),
            code="login",
        )
    else:
        account = _account_create(username=username, email=invitation.email, password=password)
        created = True
    membership = membership_add(
        actor=invitation.invited_by,
        study=invitation.study,
        user=account,
        role=invitation.role,
        tier=invitation.tier,
        years_experience=invitation.years_experience,
    )
    invitation.used_at = timezone.now()
    invitation.accepted_by = account
    invitation.save(update_fields=["used_at", "accepted_by"])
    audit_record(
        actor=account,
        action=AuditAction.INVITATION_ACCEPTED,
        target=invitation,
        after={
            "user": account.get_username(),
            "role": invitation.role,
            "membership": str(membership.pk),
            "account_created": created,
        },
    )
    return membership


def _account_create(*, username: str, email: str, password: str) -> Any:
    user_model = get_user_model()
    username = (username or "").strip()
    errors: dict[str, list[str]] = {}
    if not username:
        errors["username"] = [_("Choose a username.")]
    elif user_model.objects.filter(username__iexact=username).exists():
        errors["username"] = [_("This username is taken; choose another.")]
    user = user_model(username=username, email=email)
    try:
        user_model._meta.get_field("username").run_validators(username)
    except ValidationError as exc:
        errors.setdefault("username", []).extend(exc.messages)
    try:
        validate_password(password or "", user=user)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    user.set_password(password)
    user.save()
    return user


# ------------------------------------------------------------------------ API tokens


@dataclass(frozen=True)
class IssuedToken:
    api_token: ApiToken
    token: str  # shown once; only its SHA-256 is stored


@transaction.atomic
def api_token_create(*, user: Any, name: str) -> IssuedToken:
    """A new API token for ``user``: the secret is returned once and stored as its hash."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("Name the token (e.g. the script that uses it).")]})
    token = new_api_token()
    api_token = ApiToken(
        user=user, name=name, prefix=token[:API_TOKEN_PREFIX_LENGTH], token_sha256=sha256_hex(token)
    )
    api_token.full_clean()
    api_token.save()
    audit_record(
        actor=user,
        action=AuditAction.API_TOKEN_CREATED,
        target=api_token,
        after={"name": name, "prefix": api_token.prefix},
    )
    return IssuedToken(api_token, token)


@transaction.atomic
def api_token_revoke(*, user: Any, api_token: ApiToken) -> ApiToken:
    """Revoke one of ``user``'s tokens: it authenticates nothing from now on."""
    api_token = ApiToken.objects.select_for_update().get(pk=api_token.pk, user=user)
    if api_token.revoked_at is None:
        api_token.revoked_at = timezone.now()
        api_token.save(update_fields=["revoked_at"])
        audit_record(
            actor=user,
            action=AuditAction.API_TOKEN_REVOKED,
            target=api_token,
            after={"name": api_token.name, "prefix": api_token.prefix},
        )
    return api_token


def api_token_user(token: str) -> tuple[Any, ApiToken] | None:
    """The active user and token row of a presented token, or None (unknown or revoked)."""
    if not token:
        return None
    digest = sha256_hex(token)
    for row in ApiToken.objects.select_related("user").filter(
        prefix=token[:API_TOKEN_PREFIX_LENGTH], revoked_at__isnull=True
    ):
        if same_digest(row.token_sha256, digest) and row.user.is_active:
            now = timezone.now()
            if row.last_used_at is None or now - row.last_used_at > timedelta(seconds=60):
                ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
                row.last_used_at = now
            return row.user, row
    return None


# ------------------------------------------------------------------- two-factor (TOTP)


def totp_confirmed_device(user: Any) -> Any | None:
    """``user``'s confirmed TOTP device, if he has turned two-factor login on."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if getattr(user, "pk", None) is None:
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def totp_pending_device(user: Any) -> Any:
    """The unconfirmed TOTP device being enrolled (made on first call, kept until confirmed)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Fontanelle", confirmed=False)
    return device


@transaction.atomic
def totp_confirm(*, user: Any, code: str) -> Any:
    """Confirm the pending device with a code from the app: two-factor login is on."""
    device = totp_pending_device(user)
    if not device.verify_token((code or "").strip().replace(" ", "")):
        raise ValidationError(
            {"code": [_("That code is not right (or too old). Try the newest one.")]}
        )
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    type(device).objects.filter(user=user).exclude(pk=device.pk).delete()
    audit_record(
        actor=user,
        action=AuditAction.TWO_FACTOR_ENABLED,
        target=None,
        after={"user": user.get_username(), "method": "totp"},
    )
    return device


@transaction.atomic
def totp_disable(*, user: Any, code: str) -> None:
    """Turn two-factor login off; needs a current code from the confirmed device."""
    device = totp_confirmed_device(user)
    if device is None:
        return
    if not device.verify_token((code or "").strip().replace(" ", "")):
        raise ValidationError(
            {"code": [_("That code is not right (or too old). Try the newest one.")]}
        )
    type(device).objects.filter(user=user).delete()
    audit_record(
        actor=user,
        action=AuditAction.TWO_FACTOR_DISABLED,
        target=None,
        after={"user": user.get_username(), "method": "totp"},
    )
