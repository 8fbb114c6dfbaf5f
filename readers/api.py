"""DRF API of the readers app: the workstation for other viewers, and coordination."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from readers import selectors, services
from readers.models import Read
from readers.permissions import access_assignment, access_session
from readers.serializers import (
    ActivitySerializer,
    CoordinatorSessionSerializer,
    EnrolSerializer,
    ReadSerializer,
    ReviseSerializer,
    SessionCreateSerializer,
    SessionSummarySerializer,
    SubmitSerializer,
    assignment_data,
    summary_data,
)
from trials.models import Role
from trials.permissions import access_study


def _refusal(exc: services.ReadingRefused) -> Response:
    return Response(
        {"detail": exc.message, "opens_at": exc.opens_at.isoformat() if exc.opens_at else None},
        status=exc.status_code,
    )


def _invalid(exc: ValidationError) -> Response:
    return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)


class SessionListApi(APIView):
    """The reader's own sessions with progress and opening."""

    serializer_class = SessionSummarySerializer

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
        following = services.session_next_assignment(session=session)
        if following is None and session.completed_at is not None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        if following is None:
            opening = services.session_availability(session=session)
            return _refusal(services.ReadingRefused(opening.reason or "Nothing to read.", opens_at=opening.at))
        try:
            assignment = services.assignment_serve(reader=request.user, assignment=following)
        except services.ReadingRefused as exc:
            return _refusal(exc)
        return Response(assignment_data(assignment))


class AssignmentApi(APIView):
    """A case of the reader's (serving it starts its timing)."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request, token: str) -> Response:
        assignment = access_assignment(request.user, token)
        try:
            assignment = services.assignment_serve(reader=request.user, assignment=assignment)
        except services.ReadingRefused as exc:
            return _refusal(exc)
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
            read = services.read_submit(reader=request.user, assignment=assignment,
                                        answer=payload.answer(), client_event_id=event_id)
        except services.ReadingRefused as exc:
            return _refusal(exc)
        except ValidationError as exc:
            return _invalid(exc)
        return Response(ReadSerializer(read).data,
                        status=status.HTTP_200_OK if read.replayed else status.HTTP_201_CREATED)


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
            return Response({"detail": "Not answered yet."}, status=status.HTTP_409_CONFLICT)
        try:
            read = services.read_revise(reader=request.user, read=read, answer=payload.answer(),
                                        reason=payload.validated_data["reason"])
        except services.ReadingRefused as exc:
            return _refusal(exc)
        except ValidationError as exc:
            return _invalid(exc)
        return Response(ReadSerializer(read).data)


class DraftApi(APIView):
    """Autosave the unfinished answer (any subset of the answer fields)."""

    @extend_schema(request=dict, responses={204: None})
    def put(self, request: Request, token: str) -> Response:
        assignment = access_assignment(request.user, token)
        try:
            services.read_draft_save(reader=request.user, assignment=assignment,
                                     draft=request.data if isinstance(request.data, dict) else {})
        except services.ReadingRefused as exc:
            return _refusal(exc)
        except ValidationError as exc:
            return _invalid(exc)
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
            services.activity_record(reader=request.user, assignment=assignment,
                                     kind=payload.validated_data["kind"])
        except services.ReadingRefused as exc:
            return _refusal(exc)
        except ValidationError as exc:
            return _invalid(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MyReadsApi(APIView):
    """The reader's own reads."""

    serializer_class = ReadSerializer

    def get(self, request: Request) -> Response:
        return Response(ReadSerializer(selectors.reader_reads(user=request.user), many=True).data)


# ------------------------------------------------------------------------ coordinator


class StudyReadersApi(APIView):
    """The study's readers (GET) and enrolment (POST), for coordinators."""

    serializer_class = EnrolSerializer

    def get(self, request: Request, study_id: Any) -> Response:
        study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
        return Response([
            {"username": m.user.username,
             "tier": p.tier if p else None,
             "years_experience": p.years_experience if p else None}
            for m, p in selectors.study_readers(study=study)
        ])

    def post(self, request: Request, study_id: Any) -> Response:
        study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
        payload = EnrolSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        user = get_user_model().objects.filter(username=data["username"]).first()
        if user is None:
            return Response({"username": ["No user has this username."]}, status=400)
        try:
            profile = services.reader_enrol(actor=request.user, study=study, user=user,
                                            tier=data["tier"], years_experience=data["years_experience"])
        except ValidationError as exc:
            return _invalid(exc)
        return Response({"username": user.username, "tier": profile.tier,
                         "years_experience": profile.years_experience}, status=201)


class StudySessionsApi(APIView):
    """The study's sessions with progress (GET); create those of its design (POST)."""

    serializer_class = SessionCreateSerializer

    def get(self, request: Request, study_id: Any) -> Response:
        study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
        return Response(CoordinatorSessionSerializer(selectors.study_sessions(study=study), many=True).data)

    def post(self, request: Request, study_id: Any) -> Response:
        study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
        payload = SessionCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        ids = payload.validated_data["datasets"]
        datasets = list(study.datasets.filter(pk__in=ids)) if ids is not None else None
        if ids is not None and len(datasets or []) != len(set(ids)):
            return Response({"datasets": ["Unknown dataset."]}, status=400)
        try:
            made = services.session_create_for_design(actor=request.user, study=study, datasets=datasets,
                                                      seed=payload.validated_data["seed"])
        except ValidationError as exc:
            return _invalid(exc)
        return Response({"created": len(made)}, status=201)


class StudyProgressApi(APIView):
    """Reading progress of the study per reader session and per case."""

    def get(self, request: Request, study_id: Any) -> Response:
        study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
        return Response({
            "sessions": CoordinatorSessionSerializer(selectors.study_sessions(study=study), many=True).data,
            "cases": selectors.study_progress_by_case(study=study),
        })
