"""DRF API of the readers app: the workstation for other viewers, and coordination."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from readers import selectors, services
from readers.models import Read, SourceGuess
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
from trials.selectors import ENROLMENT_ANSWER, active_user_by_username


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
            return _refusal(exc)
        if assignment is None and session.completed_at is not None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        if assignment is None:
            opening = services.session_availability(session=session)
            return _refusal(
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
            read = services.read_submit(
                reader=request.user,
                assignment=assignment,
                answer=payload.answer(),
                client_event_id=event_id,
                tool_use=payload.validated_data.get("tool_use"),
            )
        except services.ReadingRefused as exc:
            return _refusal(exc)
        except ValidationError as exc:
            return _invalid(exc)
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
            services.read_draft_save(
                reader=request.user,
                assignment=assignment,
                draft=request.data if isinstance(request.data, dict) else {},
            )
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
            services.activity_record(
                reader=request.user, assignment=assignment, kind=payload.validated_data["kind"]
            )
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
        return Response(
            [
                {
                    "username": m.user.username,
                    "tier": m.tier or None,
                    "years_experience": m.years_experience,
                }
                for m in selectors.study_readers(study=study)
            ]
        )

    def post(self, request: Request, study_id: Any) -> Response:
        """Enrol a reader; the answer is the same whether or not the username exists."""
        study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
        payload = EnrolSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        user = active_user_by_username(username=data["username"])
        if user is not None:
            try:
                services.reader_enrol(
                    actor=request.user,
                    study=study,
                    user=user,
                    tier=data["tier"],
                    years_experience=data["years_experience"],
                )
            except ValidationError as exc:
                return _invalid(exc)
        return Response(
            {
                "username": data["username"],
                "tier": data["tier"],
                "years_experience": data["years_experience"],
                "detail": ENROLMENT_ANSWER % {"username": data["username"]},
            },
            status=202,
        )


class StudySessionsApi(APIView):
    """The study's sessions with progress (GET); create those of its design (POST)."""

    serializer_class = SessionCreateSerializer

    def get(self, request: Request, study_id: Any) -> Response:
        study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
        return Response(
            CoordinatorSessionSerializer(selectors.study_sessions(study=study), many=True).data
        )

    def post(self, request: Request, study_id: Any) -> Response:
        study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
        payload = SessionCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        ids = payload.validated_data["datasets"]
        datasets = list(study.datasets.filter(pk__in=ids)) if ids is not None else None
        if ids is not None and len(datasets or []) != len(set(ids)):
            return Response({"datasets": ["Unknown dataset."]}, status=400)
        try:
            made = services.session_create_for_design(
                actor=request.user,
                study=study,
                datasets=datasets,
                seed=payload.validated_data["seed"],
            )
        except ValidationError as exc:
            return _invalid(exc)
        return Response({"created": len(made)}, status=201)


class StudyProgressApi(APIView):
    """Reading progress of the study per reader session and per case."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, study_id: Any) -> Response:
        study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
        return Response(
            {
                "sessions": CoordinatorSessionSerializer(
                    selectors.study_sessions(study=study), many=True
                ).data,
                "cases": selectors.study_progress_by_case(study=study),
            }
        )


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
            return _refusal(exc)
        except ValidationError as exc:
            return _invalid(exc)
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
            return _refusal(exc)
        except ValidationError as exc:
            return _invalid(exc)
        replayed = getattr(read, "replayed", False)
        return Response(
            ReadSerializer(read).data,
            status=status.HTTP_200_OK if replayed else status.HTTP_201_CREATED,
        )


class AllocationCreateSerializer(serializers.Serializer):
    """Parameters of the randomization; the seed is drawn by the server and cannot be given."""

    stratify_by = serializers.ChoiceField(
        choices=["none", "probe_type", "ga_group", "manufacturer"], default="none"
    )
    block_sizes = serializers.ListField(
        child=serializers.IntegerField(min_value=2), default=[2, 4, 6]
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Refused rather than ignored: a client that sends one must not believe it was used.
        if "seed" in self.initial_data:
            raise serializers.ValidationError(
                {
                    "seed": _(
                        "The seed is drawn by the server from a secure random source; "
                        "it cannot be chosen."
                    )
                }
            )
        return attrs


class AllocationApi(APIView):
    """The allocation's state and commitment (GET); generate it (POST, draft only).

    The allocation itself is returned only after unblinding, with its verification.
    """

    serializer_class = AllocationCreateSerializer

    def get(self, request: Request, study_id: Any) -> Response:
        from trials.models import AllocationList, StudyStatus
        from trials.services.allocation import allocation_disclose

        study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
        allocation = AllocationList.objects.filter(study=study).first()
        body: dict[str, Any] = {
            "status": study.status,
            "generated": allocation is not None,
            "commitment": study.allocation_commitment or None,
            "disclosure": None,
        }
        if allocation is not None and study.status == StudyStatus.UNBLINDED:
            disclosure = allocation_disclose(study=study)
            body["disclosure"] = {
                "document": disclosure.document,
                "seed": disclosure.seed,
                "nonce": disclosure.nonce,
                "hash_matches": disclosure.hash_matches,
                "reproducible": disclosure.reproducible,
                "verified": disclosure.verified,
            }
        return Response(body)

    def post(self, request: Request, study_id: Any) -> Response:
        from readers.source_trial import study_juniors_seniors
        from trials.services.allocation import allocation_generate

        study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
        payload = AllocationCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        juniors, seniors = study_juniors_seniors(study)
        data = payload.validated_data
        try:
            allocation = allocation_generate(
                actor=request.user,
                study=study,
                juniors=juniors,
                seniors=seniors,
                stratify_by=data["stratify_by"],
                block_sizes=tuple(data["block_sizes"]),
            )
        except ValidationError as exc:
            return _invalid(exc)
        return Response(
            {
                "generated": True,
                "groups": len(allocation.groups),
                "entries": allocation.entries.count(),
            },
            status=status.HTTP_201_CREATED,
        )


class MaterialImportSerializer(serializers.Serializer):
    """A ZIP of manifest.csv and images, prepared outside the platform."""

    archive = serializers.FileField()
    # A declared field (the serializer metaclass takes it off the class), not Field.source.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=["junior", "sonographer"], default="junior"
    )
    dry_run = serializers.BooleanField(default=True)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class MaterialImportApi(APIView):
    """Import human material (junior or sonographer) through the AI's rendition path."""

    serializer_class = MaterialImportSerializer

    def post(self, request: Request, study_id: Any) -> Response:
        import tempfile
        from pathlib import Path

        from readers.preparation import material_import
        from trials.services.archives import archive_extract

        study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
        payload = MaterialImportSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        with tempfile.TemporaryDirectory() as scratch:
            try:
                manifest = archive_extract(upload=data["archive"], destination=Path(scratch))
            except ValidationError as exc:
                return _invalid(exc)
            report = material_import(
                actor=request.user,
                study=study,
                manifest=manifest,
                dry_run=data["dry_run"],
                source=data["source"],
                reason=data["reason"],
            )
        body = {
            "ok": report.ok,
            "dry_run": report.dry_run,
            "rows": report.rows,
            "created": report.created,
            "problems": [p.__dict__ for p in report.problems],
        }
        return Response(
            body, status=status.HTTP_200_OK if report.ok else status.HTTP_400_BAD_REQUEST
        )
