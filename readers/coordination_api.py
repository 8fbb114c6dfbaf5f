"""DRF API of the readers app for coordinators: readers, sessions, progress, allocation.

Enrolment and the sessions of the study's design, reading progress (counts only, never an
answer), the source trial's allocation and the import of human material. Every endpoint
checks the coordinator role of the study (:func:`trials.permissions.access_study`).
"""

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
from readers.api_errors import invalid
from readers.serializers import (
    CoordinatorSessionSerializer,
    EnrolSerializer,
    SessionCreateSerializer,
)
from trials.models import Role
from trials.permissions import access_study
from trials.selectors import ENROLMENT_ANSWER, active_user_by_username


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
                return invalid(exc)
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
            return invalid(exc)
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
            body["disclosure"] = allocation_disclose(study=study).as_dict()
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
            return invalid(exc)
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
                return invalid(exc)
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
