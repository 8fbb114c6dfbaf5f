"""Account pages: study members and invitations, accepting an invitation, two-factor login,
API tokens."""

from __future__ import annotations

import io
import time
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts import services
from accounts.backends import USER_BACKEND
from accounts.forms import (
    AcceptInvitationForm,
    ApiTokenForm,
    EndMembershipForm,
    InvitationForm,
    OtpCodeForm,
)
from accounts.models import ApiToken, Invitation
from trials.models import Membership, Role
from trials.permissions import access_study
from trials.services import membership_end

#: The session key of a login whose password was right and whose TOTP code is awaited.
PENDING_LOGIN = "accounts_pending_two_factor"
#: How long the code may wait after the password (seconds).
PENDING_LOGIN_SECONDS = 300


def site_base_url(request: HttpRequest) -> str:
    """The address links in e-mails start with (scheme and host of this request)."""
    return request.build_absolute_uri("/")


# ------------------------------------------------------------------ members, invitations


def _members_context(study: Any, **extra: Any) -> dict[str, Any]:
    members = (
        Membership.objects.filter(study=study)
        .select_related("user", "ended_by")
        .order_by("ended_at", "role", "user__username")
    )
    return {
        "study": study,
        "members": members,
        "invitations": Invitation.objects.filter(study=study).select_related("invited_by")[:200],
        "invite_form": InvitationForm(),
        "demo_banner": study.is_demo,
        **extra,
    }


@login_required
def members(request: HttpRequest, study_id: Any) -> HttpResponse:
    """A study's people (coordinators): members, ended memberships, invitations."""
    study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
    return render(request, "accounts/members.html", _members_context(study))


@login_required
@require_POST
def invite(request: HttpRequest, study_id: Any) -> HttpResponse:
    study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            issued = services.invitation_create(
                actor=request.user,
                study=study,
                base_url=site_base_url(request),
                **form.cleaned_data,
            )
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
        else:
            messages.success(
                request,
                _("Invitation sent to %(email)s; its link works once, for %(days)d days.")
                % {"email": issued.invitation.email, "days": settings.FONTANELLE_INVITATION_DAYS},
            )
            return redirect("accounts:members", study_id=study.pk)
    return render(
        request, "accounts/members.html", _members_context(study, invite_form=form), status=400
    )


@login_required
@require_POST
def invitation_withdraw(request: HttpRequest, study_id: Any, invitation_id: Any) -> HttpResponse:
    study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
    invitation = get_object_or_404(Invitation, pk=invitation_id, study=study)
    try:
        services.invitation_withdraw(actor=request.user, invitation=invitation)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        messages.success(request, _("The invitation of %s is withdrawn.") % invitation.email)
    return redirect("accounts:members", study_id=study.pk)


@login_required
@require_POST
def member_end(request: HttpRequest, study_id: Any, membership_id: Any) -> HttpResponse:
    """End a membership, with a reason (the person keeps his history, loses access)."""
    study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
    membership = get_object_or_404(Membership, pk=membership_id, study=study)
    form = EndMembershipForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Ending a membership needs a reason."))
        return redirect("accounts:members", study_id=study.pk)
    try:
        membership_end(
            actor=request.user, membership=membership, reason=form.cleaned_data["reason"]
        )
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        messages.success(
            request,
            _("%(user)s is no longer a %(role)s of this study.")
            % {"user": membership.user.get_username(), "role": membership.get_role_display()},
        )
    return redirect("accounts:members", study_id=study.pk)


@never_cache
@sensitive_post_parameters("password1", "password2")
def invitation_page(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation link: set a username and password, or log in, and accept."""
    try:
        invitation = services.invitation_by_token(token)
    except services.InvitationRefused as exc:
        status = 404 if exc.code == "unknown" else 410
        return render(request, "accounts/invitation.html", {"refusal": exc.message}, status=status)
    existing = services.accounts_with_email(invitation.email)
    logged_in = request.user.is_authenticated
    needs_login = bool(existing) and not logged_in
    other_account = logged_in and not any(a.pk == request.user.pk for a in existing)
    form = AcceptInvitationForm() if not existing and not logged_in else None
    status = 200
    if request.method == "POST" and not needs_login and not other_account:
        username = password = ""
        if form is not None:
            form = AcceptInvitationForm(request.POST)
            if form.is_valid():
                username = form.cleaned_data["username"]
                password = form.cleaned_data["password1"]
        if form is None or form.is_valid():
            try:
                membership = services.invitation_accept(
                    token=token,
                    user=request.user if logged_in else None,
                    username=username,
                    password=password,
                )
            except services.InvitationRefused as exc:
                return render(
                    request, "accounts/invitation.html", {"refusal": exc.message}, status=410
                )
            except ValidationError as exc:
                if form is not None and hasattr(exc, "error_dict"):
                    for field, errors in exc.message_dict.items():
                        form.add_error("password1" if field == "password" else field, errors)
                else:
                    messages.error(request, "; ".join(exc.messages))
            else:
                if not logged_in:
                    auth_login(
                        request,
                        membership.user,
                        backend=USER_BACKEND,
                    )
                messages.success(
                    request,
                    _("Welcome: you are now a %(role)s of “%(study)s”.")
                    % {"role": membership.get_role_display(), "study": membership.study.title},
                )
                return redirect("home")
        status = 400
    elif request.method == "POST":
        status = 403  # log in first, or as the account of the invited address
    login_url = f"{reverse('login')}?{urlencode({'next': request.path})}"
    context = {
        "invitation": invitation,
        "form": form,
        "needs_login": needs_login,
        "other_account": other_account,
        "login_url": login_url,
    }
    return render(request, "accounts/invitation.html", context, status=status)


# ------------------------------------------------------------------ login with TOTP


class LoginView(auth_views.LoginView):
    """Django's login; with a confirmed TOTP device the code is asked before logging in."""

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        if services.totp_confirmed_device(user) is None:
            return super().form_valid(form)
        self.request.session[PENDING_LOGIN] = {
            "user": str(user.pk),
            "backend": getattr(user, "backend", USER_BACKEND),
            "next": self.get_success_url(),
            "at": time.time(),
        }
        return redirect("accounts:login-verify")


def _pending_login(request: HttpRequest) -> tuple[Any, dict[str, Any]] | None:
    pending = request.session.get(PENDING_LOGIN)
    if not pending or time.time() - float(pending.get("at", 0)) > PENDING_LOGIN_SECONDS:
        request.session.pop(PENDING_LOGIN, None)
        return None
    user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    return (user, pending) if user is not None else None


@never_cache
@sensitive_post_parameters("code")
def login_verify(request: HttpRequest) -> HttpResponse:
    """Second step of a two-factor login: the current code of the user's authenticator."""
    found = _pending_login(request)
    if found is None:
        messages.error(request, _("Log in again: the code was not given in time."))
        return redirect("login")
    user, pending = found
    device = services.totp_confirmed_device(user)
    if device is None:  # turned off meanwhile: the password step was enough
        request.session.pop(PENDING_LOGIN, None)
        auth_login(request, user, backend=pending["backend"])
        return redirect(pending["next"])
    form = OtpCodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        allowed, _throttle = device.verify_is_allowed()
        code = form.cleaned_data["code"].strip().replace(" ", "")
        if allowed and device.verify_token(code):
            from django_otp import login as otp_login

            request.session.pop(PENDING_LOGIN, None)
            auth_login(request, user, backend=pending["backend"])
            otp_login(request, device)
            nxt = pending["next"]
            if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
                nxt = settings.LOGIN_REDIRECT_URL
            return redirect(nxt)
        if not allowed:
            form.add_error("code", _("Too many wrong codes: wait a little, then try again."))
        else:
            form.add_error("code", _("That code is not right (or too old). Try the newest one."))
        status = 400
    return render(request, "accounts/login_verify.html", {"form": form}, status=status)


def admin_login(request: HttpRequest) -> HttpResponseBase:
    """The admin's login is the site's (so two-factor login applies there too)."""
    nxt = request.GET.get("next") or reverse("admin:index")
    return redirect(f"{reverse('login')}?{urlencode({'next': nxt})}")


# ------------------------------------------------------------------ the account page


@login_required
def account(request: HttpRequest) -> HttpResponse:
    """The person's account: two-factor login and API tokens."""
    assert request.user.is_authenticated  # login_required
    return render(
        request,
        "accounts/account.html",
        {
            "two_factor_on": services.totp_confirmed_device(request.user) is not None,
            "token_count": ApiToken.objects.filter(
                user=request.user, revoked_at__isnull=True
            ).count(),
            "is_coordinator": Membership.objects.active()
            .filter(user=request.user, role=Role.COORDINATOR)
            .exists(),
        },
    )


def _qr_svg(text: str) -> str:
    """The QR code of ``text`` as inline SVG ("" when the qrcode package is missing)."""
    try:
        import qrcode
        import qrcode.image.svg
    except ImportError:  # optional: the otpauth URI is shown anyway
        return ""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    return svg[svg.index("<svg") :] if "<svg" in svg else svg


@login_required
@never_cache
@sensitive_post_parameters("code")
def two_factor(request: HttpRequest) -> HttpResponse:
    """Turn TOTP two-factor login on (scan, then confirm with a code) or off."""
    confirmed = services.totp_confirmed_device(request.user)
    form = OtpCodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            if confirmed is None:
                services.totp_confirm(user=request.user, code=form.cleaned_data["code"])
                messages.success(request, _("Two-factor login is on: each login asks for a code."))
            else:
                services.totp_disable(user=request.user, code=form.cleaned_data["code"])
                messages.success(request, _("Two-factor login is off."))
        except ValidationError as exc:
            for errors in exc.message_dict.values():
                form.add_error("code", errors)
            status = 400
        else:
            return redirect("accounts:two-factor")
    context: dict[str, Any] = {"confirmed": confirmed is not None, "form": form}
    if confirmed is None:
        device = services.totp_pending_device(request.user)
        context["otpauth_uri"] = device.config_url
        context["qr_svg"] = _qr_svg(device.config_url)
    return render(request, "accounts/two_factor.html", context, status=status)


@login_required
@never_cache
def tokens(request: HttpRequest) -> HttpResponse:
    """The person's API tokens; a new token is shown on this answer only."""
    assert request.user.is_authenticated  # login_required
    form = ApiTokenForm(request.POST or None)
    issued = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            issued = services.api_token_create(user=request.user, name=form.cleaned_data["name"])
            form = ApiTokenForm()
        else:
            status = 400
    context = {
        "form": form,
        "issued": issued,
        "tokens": ApiToken.objects.filter(user=request.user),
    }
    response = render(request, "accounts/tokens.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: Any) -> HttpResponse:
    api_token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    services.api_token_revoke(user=request.user, api_token=api_token)
    messages.success(request, _("The token %s… is revoked.") % api_token.prefix)
    return redirect("accounts:tokens")
