"""Serializers of the accounts API."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from accounts.models import ApiToken, Invitation
from trials.models import ReaderTier, Role


class InvitationSerializer(serializers.ModelSerializer):
    state = serializers.CharField(
        read_only=True, help_text=_("pending, used, expired or withdrawn")
    )
    invited_by = serializers.CharField(source="invited_by.username", read_only=True)
    role = serializers.ChoiceField(choices=Role.choices)
    tier = serializers.ChoiceField(
        choices=ReaderTier.choices, required=False, allow_blank=True, default=""
    )
    years_experience = serializers.IntegerField(
        required=False, min_value=0, max_value=60, default=0
    )

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "role",
            "tier",
            "years_experience",
            "state",
            "invited_by",
            "created",
            "expires_at",
            "used_at",
            "withdrawn_at",
        ]
        read_only_fields = [
            "id",
            "state",
            "invited_by",
            "created",
            "expires_at",
            "used_at",
            "withdrawn_at",
        ]


class AcceptInvitationSerializer(serializers.Serializer):
    token = serializers.CharField(help_text=_("the token of the invitation link (its last part)"))
    username = serializers.CharField(
        required=False, allow_blank=True, default="", help_text=_("for a new account")
    )
    password = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        style={"input_type": "password"},
        write_only=True,
        help_text=_("for a new account"),
    )


class AcceptedInvitationSerializer(serializers.Serializer):
    membership = serializers.UUIDField()
    study = serializers.UUIDField()
    role = serializers.CharField()
    username = serializers.CharField()


class EndMembershipSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created", "last_used_at", "revoked_at"]
        read_only_fields = ["id", "prefix", "created", "last_used_at", "revoked_at"]


class IssuedApiTokenSerializer(ApiTokenSerializer):
    token = serializers.CharField(
        read_only=True, help_text=_("shown this once; only its hash is kept")
    )

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]


class EndedMembershipSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField(source="user.username")
    role = serializers.CharField()
    ended_at = serializers.DateTimeField()
    end_reason = serializers.CharField()
