"""The accounts REST API: invitations, ending memberships, API tokens."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.models import ApiToken, Invitation
from accounts.serializers import (
    AcceptedInvitationSerializer,
    AcceptInvitationSerializer,
    ApiTokenSerializer,
    EndedMembershipSerializer,
    EndMembershipSerializer,
    InvitationSerializer,
    IssuedApiTokenSerializer,
)
from accounts.views import site_base_url
from trials.models import Membership, Role
from trials.permissions import access_study
from trials.services import membership_end


def _as_drf(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


class StudyInvitationsApi(APIView):
    """A study's invitations (GET) and a new one, e-mailed with its one-time link (POST)."""

    serializer_class = InvitationSerializer

    @extend_schema(operation_id="study_invitations_list", responses=InvitationSerializer(many=True))
    def get(self, request: Request, study_pk: Any) -> Response:
        study = access_study(request.user, study_pk, roles=(Role.COORDINATOR,))
        rows = Invitation.objects.filter(study=study).select_related("invited_by")
        return Response(InvitationSerializer(rows, many=True).data)

    @extend_schema(
        operation_id="study_invitations_create",
        request=InvitationSerializer,
        responses={201: InvitationSerializer},
    )
    def post(self, request: Request, study_pk: Any) -> Response:
        study = access_study(request.user, study_pk, roles=(Role.COORDINATOR,))
        serializer = InvitationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            issued = services.invitation_create(
                actor=request.user,
                study=study,
                email=data["email"],
                role=data["role"],
                tier=data.get("tier", ""),
                years_experience=data.get("years_experience", 0),
                base_url=site_base_url(request),
            )
        except DjangoValidationError as exc:
            raise _as_drf(exc) from exc
        return Response(
            InvitationSerializer(issued.invitation).data, status=status.HTTP_201_CREATED
        )


class InvitationWithdrawApi(APIView):
    """Withdraw a pending invitation (its link stops working)."""

    serializer_class = InvitationSerializer

    @extend_schema(
        operation_id="study_invitations_withdraw", request=None, responses=InvitationSerializer
    )
    def post(self, request: Request, study_pk: Any, pk: Any) -> Response:
        study = access_study(request.user, study_pk, roles=(Role.COORDINATOR,))
        invitation = get_object_or_404(Invitation, pk=pk, study=study)
        try:
            invitation = services.invitation_withdraw(actor=request.user, invitation=invitation)
        except DjangoValidationError as exc:
            raise _as_drf(exc) from exc
        return Response(InvitationSerializer(invitation).data)


class InvitationAcceptApi(APIView):
    """Use an invitation's token: a new account (username, password) or the logged-in one.

    404: unknown token; 410: used, expired or withdrawn; 403: the address has an account
    and the request is not that account's (log in first); 400: invalid username or
    password, or a role the separation of duties forbids.
    """

    permission_classes = [permissions.AllowAny]
    serializer_class = AcceptInvitationSerializer

    @extend_schema(
        operation_id="invitations_accept",
        request=AcceptInvitationSerializer,
        responses={201: AcceptedInvitationSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = AcceptInvitationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            membership = services.invitation_accept(
                token=data["token"],
                user=request.user if request.user.is_authenticated else None,
                username=data["username"],
                password=data["password"],
            )
        except services.InvitationRefused as exc:
            code = {"unknown": 404, "login": 403, "other_account": 403}.get(exc.code, 410)
            return Response({"detail": exc.message, "code": exc.code}, status=code)
        except DjangoValidationError as exc:
            raise _as_drf(exc) from exc
        body = {
            "membership": membership.pk,
            "study": membership.study_id,
            "role": membership.role,
            "username": membership.user.get_username(),
        }
        return Response(AcceptedInvitationSerializer(body).data, status=status.HTTP_201_CREATED)


class MembershipEndApi(APIView):
    """End a membership, with a reason: the person loses access, his reads stay."""

    serializer_class = EndMembershipSerializer

    @extend_schema(
        operation_id="study_members_end",
        request=EndMembershipSerializer,
        responses=EndedMembershipSerializer,
    )
    def post(self, request: Request, study_pk: Any, pk: Any) -> Response:
        study = access_study(request.user, study_pk, roles=(Role.COORDINATOR,))
        membership = get_object_or_404(Membership, pk=pk, study=study)
        serializer = EndMembershipSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            membership = membership_end(
                actor=request.user,
                membership=membership,
                reason=serializer.validated_data["reason"],
            )
        except DjangoValidationError as exc:
            raise _as_drf(exc) from exc
        return Response(EndedMembershipSerializer(membership).data)


class ApiTokensApi(APIView):
    """The caller's API tokens (GET) and a new one (POST: its secret is in this answer only)."""

    serializer_class = ApiTokenSerializer

    @extend_schema(operation_id="api_tokens_list", responses=ApiTokenSerializer(many=True))
    def get(self, request: Request) -> Response:
        assert request.user.is_authenticated  # IsAuthenticated, the default permission
        return Response(
            ApiTokenSerializer(ApiToken.objects.filter(user=request.user), many=True).data
        )

    @extend_schema(
        operation_id="api_tokens_create",
        request=ApiTokenSerializer,
        responses={201: IssuedApiTokenSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = ApiTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            issued = services.api_token_create(
                user=request.user, name=serializer.validated_data["name"]
            )
        except DjangoValidationError as exc:
            raise _as_drf(exc) from exc
        body = {**ApiTokenSerializer(issued.api_token).data, "token": issued.token}
        response = Response(body, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class ApiTokenRevokeApi(APIView):
    """Revoke one of the caller's tokens."""

    serializer_class = ApiTokenSerializer

    @extend_schema(operation_id="api_tokens_revoke", request=None, responses=ApiTokenSerializer)
    def post(self, request: Request, pk: Any) -> Response:
        api_token = get_object_or_404(ApiToken, pk=pk, user=request.user)
        api_token = services.api_token_revoke(user=request.user, api_token=api_token)
        return Response(ApiTokenSerializer(api_token).data)
