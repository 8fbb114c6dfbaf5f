"""Coordinator pages and API of the inference app."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from inference.models import AIRun, Heatmap, ModelVersion
from inference.registry import model_body
from inference.runs import ai_run_start
from inference.selectors import latest_model_versions, run_progress, run_results
from trials.models import Membership, Role
from trials.permissions import access_study


def _access_run(request: HttpRequest, run_id: str) -> AIRun:
    run = (
        AIRun.objects.select_related("study", "dataset", "model_version").filter(pk=run_id).first()
    )
    if run is None:
        raise Http404(_("No such run."))
    access_study(request.user, run.study_id, roles=(Role.COORDINATOR,))
    return run


@login_required
def ai_page(request: HttpRequest, study_id: str) -> HttpResponse:
    """Run the AI on a dataset and list earlier runs with their progress."""
    study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
    if request.method == "POST":
        dataset_id = request.POST.get("dataset")
        version_id = request.POST.get("model_version")
        dataset = study.datasets.filter(pk=dataset_id).first() if dataset_id else None
        model_version = ModelVersion.objects.filter(pk=version_id).first() if version_id else None
        if dataset is None or model_version is None:
            messages.error(request, _("Choose a dataset and a model version."))
        else:
            try:
                run = ai_run_start(
                    actor=request.user,
                    study=study,
                    dataset=dataset,
                    model_version=model_version,
                    reason=request.POST.get("reason", ""),
                )
            except ValidationError as exc:
                messages.error(request, "; ".join(exc.messages))
            else:
                return redirect("inference:run", run_id=run.pk)
    runs = [
        (run, run_progress(run=run))
        for run in study.ai_runs.select_related("dataset", "model_version")
    ]
    return render(
        request,
        "inference/ai.html",
        {
            "study": study,
            "datasets": study.datasets.all(),
            "model_versions": latest_model_versions(),
            "runs": runs,
            "demo_banner": study.is_demo,
        },
    )


@login_required
def run_page(request: HttpRequest, run_id: str) -> HttpResponse:
    """A run's progress (polled by htmx) and per case the chosen views, heatmaps, diagnosis."""
    run = _access_run(request, run_id)
    progress = run_progress(run=run)
    context = {
        "run": run,
        "study": run.study,
        "progress": progress,
        "results": run_results(run=run),
        "demo_banner": run.study.is_demo or run.model_version.is_demo,
    }
    if request.headers.get("HX-Request"):
        return render(request, "inference/_progress.html", context)
    return render(request, "inference/run.html", context)


@login_required
def heatmap_file(request: HttpRequest, heatmap_id: str) -> HttpResponseBase:
    """A heatmap overlay, for coordinators (readers get theirs through their workstation)."""
    heatmap = get_object_or_404(
        Heatmap.objects.select_related("result__case", "rendition"), pk=heatmap_id
    )
    access_study(request.user, heatmap.result.case.study_id, roles=(Role.COORDINATOR,))
    response = FileResponse(heatmap.rendition.file.open("rb"), content_type="image/png")
    response["Cache-Control"] = "private, no-store"
    return response


def _require_model_registry_access(user: Any) -> None:
    """Refuse (403) anyone who is neither staff nor a coordinator or statistician of a study."""
    if not getattr(user, "is_authenticated", False):
        raise NotAuthenticated()
    if user.is_staff:
        return
    staff_roles = (Role.COORDINATOR, Role.STATISTICIAN)
    if not Membership.objects.active().filter(user=user, role__in=staff_roles).exists():
        raise PermissionDenied(_("Only coordinators and statisticians see the model registry."))


class RunRequestSerializer(serializers.Serializer):
    dataset = serializers.UUIDField()
    model_version = serializers.UUIDField()
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=500,
        help_text=_("Needed while the study is open (an amendment of its material)."),
    )


class RunFailureSerializer(serializers.Serializer):
    case = serializers.CharField()
    error = serializers.CharField()


class RunProgressSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    dataset = serializers.UUIDField()
    model_version = serializers.CharField()
    demo_model = serializers.BooleanField()
    total = serializers.IntegerField()
    complete = serializers.IntegerField()
    failed = serializers.IntegerField()
    finished = serializers.BooleanField()
    failures = RunFailureSerializer(many=True)


class ModelVersionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    version = serializers.CharField()
    profile = serializers.CharField()
    demo = serializers.BooleanField()
    notice = serializers.CharField()
    metrics = serializers.JSONField()
    files = serializers.JSONField()


def _progress_body(run: AIRun) -> dict:
    progress = run_progress(run=run)
    return {
        "id": str(run.pk),
        "dataset": str(run.dataset_id),
        "model_version": str(run.model_version),
        "demo_model": run.model_version.is_demo,
        "total": progress.total,
        "complete": progress.complete,
        "failed": progress.failed,
        "finished": progress.finished,
        "failures": [
            {"case": r.case.code, "error": r.error}
            for r in run_results(run=run)
            if r.status == "failed"
        ],
    }


class RunRefusedSerializer(serializers.Serializer):
    detail = serializers.CharField()


@extend_schema(methods=["GET"], responses=RunProgressSerializer(many=True))
@extend_schema(
    methods=["POST"],
    request=RunRequestSerializer,
    responses={201: RunProgressSerializer, 400: RunRefusedSerializer},
)
@api_view(["GET", "POST"])
def api_runs(request: Request, study_id: str) -> Response:
    """List a study's AI runs with progress, or start one (coordinators).

    A model whose files no longer match their SHA-256 is refused (400, with the reason).
    """
    study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
    if request.method == "POST":
        serializer = RunRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dataset = get_object_or_404(study.datasets, pk=serializer.validated_data["dataset"])
        model_version = get_object_or_404(
            ModelVersion, pk=serializer.validated_data["model_version"]
        )
        try:
            run = ai_run_start(
                actor=request.user,
                study=study,
                dataset=dataset,
                model_version=model_version,
                reason=serializer.validated_data["reason"],
            )
        except ValidationError as exc:
            return Response({"detail": "; ".join(exc.messages)}, status=400)
        return Response(_progress_body(run), status=201)
    return Response([_progress_body(run) for run in study.ai_runs.all()])


@extend_schema(responses=RunProgressSerializer)
@api_view(["GET"])
def api_run(request: Request, run_id: str) -> Response:
    """One AI run's progress and failures."""
    return Response(_progress_body(_access_run(request, run_id)))


@extend_schema(responses=ModelVersionSerializer(many=True))
@api_view(["GET"])
def api_models(request: Request) -> Response:
    """Registered model versions with their metrics and demo flag (coordinators,
    statisticians and staff: a reader must not learn which model a study runs)."""
    _require_model_registry_access(request.user)
    return Response([ModelVersionSerializer(model_body(m)).data for m in latest_model_versions()])
