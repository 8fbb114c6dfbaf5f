"""Forms of the accounts pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.utils.translation import gettext_lazy as _

from trials.models import ReaderTier, Role


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    tier = forms.ChoiceField(
        label=_("Tier (readers only)"), choices=[("", "—"), *ReaderTier.choices], required=False
    )
    years_experience = forms.IntegerField(
        label=_("Years of CUS experience (readers only)"), min_value=0, max_value=60, required=False
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["years_experience"] = cleaned.get("years_experience") or 0
        if (
            cleaned.get("role")
            and cleaned["role"] != Role.READER
            and (cleaned.get("tier") or cleaned["years_experience"])
        ):
            raise forms.ValidationError(_("Only a reader has a tier and years of experience."))
        return cleaned


class EndMembershipForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500)


class AcceptInvitationForm(forms.Form):
    """A new account through an invitation: its username and password (typed twice)."""

    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
        help_text=get_user_model()._meta.get_field("username").help_text,
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return cleaned


class OtpCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=_("Name (what the token is for)"), max_length=100)
