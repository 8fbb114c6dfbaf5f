"""The trials REST API: studies, sites, datasets, members, cases, files, materials, audit."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, cast

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, Prefetch, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.relations import RelatedField
from rest_framework.request import Request
from rest_framework.response import Response

from trials import services
from trials.audit import answers_hidden
from trials.models import (
    AuditEvent,
    Case,
    Dataset,
    GoldStandard,
    MaterialSet,
    Membership,
    Rendition,
    Role,
    Site,
    Study,
)
from trials.permissions import access_case, access_study, can_create_studies, gold_standard_refusal
from trials.selectors import ENROLMENT_ANSWER, active_user_by_username, studies_for_user
from trials.serializers import (
    AssetSerializer,
    AssetUploadSerializer,
    AuditEventSerializer,
    CaseCreateSerializer,
    CaseDetailSerializer,
    CaseSerializer,
    DatasetSerializer,
    ExclusionSerializer,
    GoldStandardAmendmentSerializer,
    GoldStandardAmendSerializer,
    GoldStandardSignOffSerializer,
    ImportSerializer,
    MaterialSetSerializer,
    MembershipSerializer,
    SignatureSerializer,
    SiteSerializer,
    StudyCreateSerializer,
    StudySerializer,
    StudySettingsSerializer,
    TransitionSerializer,
)
from trials.services.archives import archive_extract
from trials.services.cases import copy_upload_to
from trials.services.studies import SIGNED_TRANSITIONS
from trials.signatures import signature_make, signatures_of, signatures_of_study

STAFF_ROLES = (Role.COORDINATOR, Role.STATISTICIAN)


def _as_drf(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


class StudyViewSet(viewsets.GenericViewSet, mixins.ListModelMixin):
    """Studies the user belongs to; coordinators create and move them along their states."""

    serializer_class = StudySerializer

    def get_queryset(self) -> QuerySet[Study]:
        return studies_for_user(user=self.request.user)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(StudySerializer(access_study(request.user, pk)).data)

    @extend_schema(request=StudyCreateSerializer, responses=StudySerializer)
    def create(self, request: Request) -> Response:
        if not can_create_studies(request.user):
            raise PermissionDenied(_("Creating studies needs the platform permission to do so."))
        serializer = StudyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            study = services.study_create(actor=request.user, **serializer.validated_data)
        except DjangoValidationError as exc:
            raise _as_drf(exc) from exc
        return Response(StudySerializer(study).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=StudySettingsSerializer, responses=StudySerializer)
    @action(detail=True, methods=["patch"], url_path="settings")
    def update_settings(self, request: Request, pk: str) -> Response:
        """Change a draft study's reading settings (audited); refused once it is open."""
        study = access_study(request.user, pk, roles=(Role.COORDINATOR,))
        serializer = StudySettingsSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            study = services.study_update_settings(
                actor=request.user, study=study, **serializer.validated_data
            )
        except DjangoValidationError as exc:
            raise _as_drf(exc) from exc
        return Response(StudySerializer(study).data)

    @extend_schema(request=TransitionSerializer, responses=StudySerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, pk: str) -> Response:
        """Move the study on; locking and unblinding need ``password`` and ``meaning`` (signed)."""
        study = access_study(request.user, pk, roles=(Role.COORDINATOR,))
        serializer = TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        password, meaning = data.pop("password"), data.pop("meaning")
        try:
            signature = None
            if data["to"] in SIGNED_TRANSITIONS:  # a wrong password is refused before any change
                signature = signature_make(
                    user=request.user, password=password, meaning=meaning, request=request
                )
            study = services.study_transition(
                actor=request.user, study=study, signature=signature, **data
            )
        except DjangoValidationError as exc:
            raise _as_drf(exc) from exc
        return Response(StudySerializer(study).data)

    @extend_schema(responses=SignatureSerializer(many=True))
    @action(detail=True, methods=["get"])
    def signatures(self, request: Request, pk: str) -> Response:
        """Electronic signatures in the study's audit chain (lock, unblinding; gold standards
        for whoever may see them now)."""
        study = access_study(request.user, pk, roles=STAFF_ROLES)
        object_type = (
            None if not gold_standard_refusal(request.user, study) else Study._meta.label_lower
        )
        views = signatures_of_study(study.pk, object_type=object_type)
        return Response(SignatureSerializer([v.as_dict() for v in views], many=True).data)

    @extend_schema(request=ImportSerializer)
    @action(detail=True, methods=["post"], url_path="import")
    def import_cases(self, request: Request, pk: str) -> Response:
        """Import a ZIP of manifest.csv + files; a dry run (default) writes nothing."""
        study = access_study(request.user, pk, roles=(Role.COORDINATOR,))
        serializer = ImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with tempfile.TemporaryDirectory() as scratch:
            try:
                manifest = archive_extract(
                    upload=serializer.validated_data["archive"], destination=Path(scratch)
                )
            except DjangoValidationError as exc:
                raise _as_drf(exc) from exc
            report = services.case_import(
                actor=request.user,
                study=study,
                manifest=manifest,
                dry_run=serializer.validated_data["dry_run"],
            )
        body = {
            "ok": report.ok,
            "dry_run": report.dry_run,
            "rows": report.rows,
            "created_cases": report.created_cases,
            "created_assets": report.created_assets,
            "problems": [p.__dict__ for p in report.problems],
        }
        return Response(
            body, status=status.HTTP_200_OK if report.ok else status.HTTP_400_BAD_REQUEST
        )


class StudyChildViewSet(viewsets.GenericViewSet):
    """Base for resources nested under /api/studies/<study_pk>/."""

    read_roles: tuple[str, ...] = STAFF_ROLES
    write_roles: tuple[str, ...] = (Role.COORDINATOR,)

    def get_study(self, *, write: bool = False) -> Study:
        """The study in the URL, if the user holds a role allowed to read (or write) it."""
        return access_study(
            self.request.user,
            self.kwargs["study_pk"],
            roles=self.write_roles if write else self.read_roles,
        )


class SiteViewSet(StudyChildViewSet, mixins.ListModelMixin):
    serializer_class = SiteSerializer

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no study
            return Site.objects.none()
        return self.get_study().sites.all()

    def create(self, request: Request, study_pk: str) -> Response:
        study = self.get_study(write=True)
        serializer = SiteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            site = services.site_create(
                actor=request.user, study=study, name=serializer.validated_data["name"]
            )
        except DjangoValidationError as exc:
            raise _as_drf(exc) from exc
        return Response(SiteSerializer(site).data, status=status.HTTP_201_CREATED)


class DatasetViewSet(StudyChildViewSet, mixins.ListModelMixin):
    serializer_class = DatasetSerializer

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Dataset.objects.none()
        return self.get_study().datasets.annotate(case_count=Count("cases")).order_by("name")

    def create(self, request: Request, study_pk: str) -> Response:
        study = self.get_study(write=True)
        serializer = DatasetSerializer(data=request.data)
        # Only this study's sites resolve: another study's ids read as unknown, not foreign.
        # A declared PrimaryKeyRelatedField (DatasetSerializer); ``fields`` is typed as Field.
        # (drf-stubs type ``queryset`` with Manager, whose descriptor mypy then applies.)
        site_field = cast(RelatedField, serializer.fields["site"])
        site_field.queryset = study.sites.all()  # type: ignore[arg-type]
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            dataset = services.dataset_create(
                actor=request.user,
                study=study,
                name=data["name"],
                kind=data["kind"],
                site=data.get("site"),
            )
        except DjangoValidationError as exc:
            raise _as_drf(exc) from exc
        return Response(DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)


class MembershipViewSet(StudyChildViewSet, mixins.ListModelMixin):
    serializer_class = MembershipSerializer
    read_roles = (Role.COORDINATOR,)

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return self.get_study().memberships.select_related("user")

    def create(self, request: Request, study_pk: str) -> Response:
        study = self.get_study(write=True)
        """Give a user a role; the answer is the same whether or not the username exists."""
        serializer = MembershipSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username, role = serializer.validated_data["user"], serializer.validated_data["role"]
        user = active_user_by_username(username=username)
        if user is not None:
            try:
                services.membership_add(actor=request.user, study=study, user=user, role=role)
            except DjangoValidationError as exc:
                raise _as_drf(exc) from exc
        body = {
            "username": username,
            "role": role,
            "detail": ENROLMENT_ANSWER % {"username": username},
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)


class CaseViewSet(StudyChildViewSet, mixins.ListModelMixin):
    """A study's cases with their gold standard, files and renditions (staff only)."""

    serializer_class = CaseSerializer

    def get_study_with_gold_standard(self) -> Study:
        """The study, if the user may see its gold standard now (403 with the reason if not)."""
        study = self.get_study()
        refusal = gold_standard_refusal(self.request.user, study)
        if refusal:
            raise PermissionDenied(refusal)
        return study

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Case.objects.none()
        return self.get_study_with_gold_standard().cases.select_related("dataset", "gold_standard")

    def retrieve(self, request: Request, study_pk: str, pk: str) -> Response:
        study = self.get_study_with_gold_standard()
        access_case(request.user, pk, roles=self.read_roles)  # 404 for malformed or unknown ids
        case = (
            Case.objects.filter(study=study, pk=pk)
            .prefetch_related(
                "assets__renditions",
                Prefetch("renditions", Rendition.objects.filter(material_set__isnull=True)),
            )
            .select_related("gold_standard")
            .first()
        )
        if case is None:
            return Response({"detail": _("No such case.")}, status=status.HTTP_404_NOT_FOUND)
        return Response(CaseDetailSerializer(case).data)

    @extend_schema(request=CaseCreateSerializer, responses=CaseSerializer)
    def create(self, request: Request, study_pk: str) -> Response:
        study = self.get_study(write=True)
        serializer = CaseCreateSerializer(data=request.data)
        dataset_field = cast(RelatedField, serializer.fields["dataset"])
        dataset_field.queryset = study.datasets.all()  # type: ignore[arg-type]
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        dataset = data.pop("dataset")
        if dataset.study_id != study.pk:
            raise ValidationError({"dataset": _("the dataset belongs to another study")})
        try:
            case = services.case_create(actor=request.user, dataset=dataset, **data)
        except DjangoValidationError as exc:
            raise _as_drf(exc) from exc
        return Response(CaseSerializer(case).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ExclusionSerializer, responses=CaseSerializer)
    @action(detail=True, methods=["post"])
    def exclude(self, request: Request, study_pk: str, pk: str) -> Response:
        case = access_case(request.user, pk, roles=(Role.COORDINATOR,))
        if str(case.study_id) != str(study_pk):
            return Response({"detail": _("No such case.")}, status=status.HTTP_404_NOT_FOUND)
        serializer = ExclusionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        case = services.case_exclude(
            actor=request.user, case=case, reason=serializer.validated_data["reason"]
        )
        return Response(CaseSerializer(case).data)

    def _coordinator_case(self, request: Request, study_pk: str, pk: str) -> Case:
        case = access_case(request.user, pk, roles=(Role.COORDINATOR,))
        if str(case.study_id) != str(study_pk):
            raise NotFound(_("No such case."))
        return case

    @extend_schema(request=GoldStandardSignOffSerializer, responses=SignatureSerializer)
    @action(detail=True, methods=["post"], url_path="gold-standard/sign-off")
    def gold_standard_sign_off(self, request: Request, study_pk: str, pk: str) -> Response:
        """Sign the case's gold standard as it is now (``password``, ``meaning``)."""
        case = self._coordinator_case(request, study_pk, pk)
        serializer = GoldStandardSignOffSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        gold = GoldStandard.objects.get(case=case)
        try:
            signature = signature_make(
                user=request.user, request=request, **serializer.validated_data
            )
            services.gold_standard_sign_off(
                actor=request.user, gold_standard=gold, signature=signature
            )
        except DjangoValidationError as exc:
            raise _as_drf(exc) from exc
        return Response(
            SignatureSerializer(signatures_of(gold)[-1].as_dict()).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=GoldStandardAmendSerializer, responses=GoldStandardAmendmentSerializer)
    @action(detail=True, methods=["post"], url_path="gold-standard/amend")
    def gold_standard_amend(self, request: Request, study_pk: str, pk: str) -> Response:
        """Correct the case's gold standard: new values, ``reason``, ``password``, ``meaning``."""
        case = self._coordinator_case(request, study_pk, pk)
        serializer = GoldStandardAmendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        gold = GoldStandard.objects.get(case=case)
        try:
            signature = signature_make(
                user=request.user,
                request=request,
                password=data.pop("password"),
                meaning=data.pop("meaning"),
            )
            amendment = services.gold_standard_amend(
                actor=request.user, gold_standard=gold, signature=signature, **data
            )
        except DjangoValidationError as exc:
            raise _as_drf(exc) from exc
        return Response(
            GoldStandardAmendmentSerializer(amendment).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=AssetUploadSerializer, responses=AssetSerializer)
    @action(detail=True, methods=["post"])
    def assets(self, request: Request, study_pk: str, pk: str) -> Response:
        """Upload one file (video, view image, DICOM) to a case."""
        case = access_case(request.user, pk, roles=(Role.COORDINATOR,))
        if str(case.study_id) != str(study_pk):
            return Response({"detail": _("No such case.")}, status=status.HTTP_404_NOT_FOUND)
        serializer = AssetUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = data["file"]
        with tempfile.TemporaryDirectory() as scratch:
            path = copy_upload_to(Path(scratch) / "upload", upload)
            try:
                asset = services.asset_ingest(
                    actor=request.user,
                    case=case,
                    path=path,
                    kind=data["kind"],
                    orientation=data["orientation"],
                    view=data["view"],
                    original_name=upload.name,
                )
            except DjangoValidationError as exc:
                raise _as_drf(exc) from exc
        return Response(AssetSerializer(asset).data, status=status.HTTP_201_CREATED)


class MaterialSetViewSet(StudyChildViewSet, mixins.ListModelMixin):
    """Material sets of the study's cases (coordinators only: they name their source).

    A junior's initial diagnosis and views are redacted until the study is locked, as in
    the audit trail (:func:`trials.audit.material_set_redacted`).
    """

    serializer_class = MaterialSetSerializer
    read_roles = (Role.COORDINATOR,)

    def get_queryset(self) -> QuerySet[MaterialSet]:
        if getattr(self, "swagger_fake_view", False):
            return MaterialSet.objects.none()
        return MaterialSet.objects.filter(case__study=self.get_study()).prefetch_related(
            "renditions"
        )

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        if not getattr(self, "swagger_fake_view", False):
            context["study"] = self.get_study()  # a junior's answer is hidden until the lock
        return context


class AuditViewSet(StudyChildViewSet, mixins.ListModelMixin):
    """The study's audit trail, newest first (coordinators only).

    Until the study is locked, readers' answers and source guesses in it are redacted
    (:func:`trials.audit.audit_event_redacted`): the rows are there, their hashes too, but not
    what was answered; those rows verify once the study is locked.
    """

    serializer_class = AuditEventSerializer
    read_roles = (Role.COORDINATOR,)

    def get_queryset(self) -> QuerySet[AuditEvent]:
        if getattr(self, "swagger_fake_view", False):
            return AuditEvent.objects.none()
        return AuditEvent.objects.filter(study_id=self.get_study().pk).order_by("-id")

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        if not getattr(self, "swagger_fake_view", False):
            context["redact_answers"] = answers_hidden(self.get_study())
        return context
