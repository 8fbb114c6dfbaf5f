"""DRF API of the readers app for readers: the workstation for other viewers.

Sessions, serving and answering cases, drafts, activity, the reader's own reads, and the
source trial's reader steps (a senior's source guess, a junior's material). The
coordinator's endpoints are in :mod:`readers.coordination_api` (re-exported here for the
URL configuration).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from readers import selectors, services
from readers.api_errors import invalid, refused

# The coordinator's endpoints, where the URL configuration has always found them.
from readers.coordination_api import (
    AllocationApi,
    MaterialImportApi,
    StudyProgressApi,
    StudyReadersApi,
    StudySessionsApi,
)
from readers.models import Read, SourceGuess
from readers.permissions import access_assignment, access_session
from readers.serializers import (
    ActivitySerializer,
    ReadSerializer,
    ReviseSerializer,
    SessionSummarySerializer,
    SubmitSerializer,
    assignment_data,
    summary_data,
)


class SessionListApi(APIView):
    """The reader's own sessions with progress and opening."""

    serializer_class = SessionSummarySerializer

    @extend_schema(
        operation_id="reading_sessions_list", responses=SessionSummarySerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        return Response([summary_data(s) for s in selectors.reader_worklist(user=request.user)])


class SessionDetailApi(APIView):
    """One of the reader's sessions."""

    serializer_class = SessionSummarySerializer

    def get(self, request: Request, session_id: Any) -> Response:
        session = access_session(request.user, session_id)
        return Response(summary_data(selectors.session_summary(session=session)))


class SessionNextApi(APIView):
    """Serve the reader's next case of a session (refused before the session opens)."""

    @extend_schema(request=None, responses={200: dict})
    def post(self, request: Request, session_id: Any) -> Response:
        session = access_session(request.user, session_id)
        try:
            assignment = services.session_serve_next(reader=request.user, session=session)
        except services.ReadingRefused as exc:
            return refused(exc)
        if assignment is None and session.completed_at is not None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        if assignment is None:
            opening = services.session_availability(session=session)
            return refused(
                services.ReadingRefused(opening.reason or "Nothing to read.", opens_at=opening.at)
            )
        return Response(assignment_data(assignment))


class AssignmentApi(APIView):
    """A case of the reader's (serving it starts its timing)."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request, token: str) -> Response:
        assignment = access_assignment(request.user, token)
        try:
            assignment = services.assignment_serve(reader=request.user, assignment=assignment)
        except services.ReadingRefused as exc:
            return refused(exc)
        return Response(assignment_data(assignment))


class ReadSubmitApi(APIView):
    """Submit the answer; the same ``client_event_id`` returns the first read (200)."""

    serializer_class = SubmitSerializer

    @extend_schema(request=SubmitSerializer, responses={201: ReadSerializer, 200: ReadSerializer})
    def post(self, request: Request, token: str) -> Response:
        assignment = access_assignment(request.user, token)
        payload = SubmitSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        event_id = payload.validated_data["client_event_id"]
        try:
            read = services.read_submit(
                reader=request.user,
                assignment=assignment,
                answer=payload.answer(),
                client_event_id=event_id,
                tool_use=payload.validated_data.get("tool_use"),
            )
        except services.ReadingRefused as exc:
            return refused(exc)
        except ValidationError as exc:
            return invalid(exc)
        return Response(
            ReadSerializer(read).data,
            status=status.HTTP_200_OK
            if getattr(read, "replayed", False)  # set by read_submit
            else status.HTTP_201_CREATED,
        )


class ReadReviseApi(APIView):
    """Change a submitted answer with a reason (where the study allows revisits)."""

    serializer_class = ReviseSerializer

    @extend_schema(request=ReviseSerializer, responses={200: ReadSerializer})
    def post(self, request: Request, token: str) -> Response:
        assignment = access_assignment(request.user, token)
        payload = ReviseSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        read = Read.objects.filter(assignment=assignment).first()
        if read is None:
            return Response({"detail": _("Not answered yet.")}, status=status.HTTP_409_CONFLICT)
        try:
            read = services.read_revise(
                reader=request.user,
                read=read,
                answer=payload.answer(),
                reason=payload.validated_data["reason"],
            )
        except services.ReadingRefused as exc:
            return refused(exc)
        except ValidationError as exc:
            return invalid(exc)
        return Response(ReadSerializer(read).data)


class DraftApi(APIView):
    """Autosave the unfinished answer (any subset of the answer fields)."""

    @extend_schema(request=dict, responses={204: None})
    def put(self, request: Request, token: str) -> Response:
        assignment = access_assignment(request.user, token)
        try:
            services.read_draft_save(
                reader=request.user,
                assignment=assignment,
                draft=request.data if isinstance(request.data, dict) else {},
            )
        except services.ReadingRefused as exc:
            return refused(exc)
        except ValidationError as exc:
            return invalid(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ActivityApi(APIView):
    """Report a visibility or idle event; the server times it with its own clock."""

    serializer_class = ActivitySerializer

    @extend_schema(request=ActivitySerializer, responses={204: None})
    def post(self, request: Request, token: str) -> Response:
        assignment = access_assignment(request.user, token)
        payload = ActivitySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            services.activity_record(
                reader=request.user, assignment=assignment, kind=payload.validated_data["kind"]
            )
        except services.ReadingRefused as exc:
            return refused(exc)
        except ValidationError as exc:
            return invalid(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MyReadsApi(APIView):
    """The reader's own reads."""

    serializer_class = ReadSerializer

    def get(self, request: Request) -> Response:
        return Response(ReadSerializer(selectors.reader_reads(user=request.user), many=True).data)


# ------------------------------------------------------------------- source trial


class SourceGuessSerializer(serializers.Serializer):
    """A senior's source guess and its idempotency key."""

    guess = serializers.ChoiceField(choices=["ai", "junior", "dont_know"])
    client_event_id = serializers.UUIDField()


class SourceGuessApi(APIView):
    """Save and lock the source guess of a blinded review (before the diagnosis)."""

    serializer_class = SourceGuessSerializer

    @extend_schema(request=SourceGuessSerializer, responses={201: dict, 200: dict})
    def post(self, request: Request, token: str) -> Response:
        from readers.source_trial import source_guess_lock

        assignment = access_assignment(request.user, token)
        payload = SourceGuessSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        before = SourceGuess.objects.filter(assignment=assignment).exists()
        try:
            saved = source_guess_lock(
                reader=request.user,
                assignment=assignment,
                guess=payload.validated_data["guess"],
                client_event_id=payload.validated_data["client_event_id"],
            )
        except services.ReadingRefused as exc:
            return refused(exc)
        except ValidationError as exc:
            return invalid(exc)
        body = {
            "token": assignment.token,
            "guess": saved.guess,
            "locked": True,
            "guessed_at": saved.guessed_at.isoformat(),
        }
        return Response(body, status=status.HTTP_200_OK if before else status.HTTP_201_CREATED)


class PrepareSerializer(serializers.Serializer):
    """A junior's material: per view a 1-based frame number or null (not obtainable)."""

    views = serializers.DictField(child=serializers.IntegerField(min_value=1, allow_null=True))
    initial_severe = serializers.BooleanField()
    client_event_id = serializers.UUIDField()


class PrepareApi(APIView):
    """Submit a junior's material for a case of his preparation session (idempotent)."""

    serializer_class = PrepareSerializer

    @extend_schema(request=PrepareSerializer, responses={201: ReadSerializer, 200: ReadSerializer})
    def post(self, request: Request, token: str) -> Response:
        from readers.preparation import material_prepare

        assignment = access_assignment(request.user, token)
        payload = PrepareSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        picks = {
            view: (None if frame is None else frame - 1)
            for view, frame in payload.validated_data["views"].items()
        }
        try:
            read = material_prepare(
                reader=request.user,
                assignment=assignment,
                picks=picks,
                initial_severe=payload.validated_data["initial_severe"],
                client_event_id=payload.validated_data["client_event_id"],
            )
        except services.ReadingRefused as exc:
            return refused(exc)
        except ValidationError as exc:
            return invalid(exc)
        replayed = getattr(read, "replayed", False)
        return Response(
            ReadSerializer(read).data,
            status=status.HTTP_200_OK if replayed else status.HTTP_201_CREATED,
        )


__all__ = [
    "ActivityApi",
    "AllocationApi",
    "AssignmentApi",
    "DraftApi",
    "MaterialImportApi",
    "MyReadsApi",
    "PrepareApi",
    "ReadReviseApi",
    "ReadSubmitApi",
    "SessionDetailApi",
    "SessionListApi",
    "SessionNextApi",
    "SourceGuessApi",
    "StudyProgressApi",
    "StudyReadersApi",
    "StudySessionsApi",
]
