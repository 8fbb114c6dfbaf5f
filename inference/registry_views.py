"""The models page and the registry's write API: register a model directory, verify a model.

Who may: staff, or a user holding the platform permission ``inference.add_modelversion``
who reads in no study (:func:`inference.registry.can_manage_models`); readers never. The
list API (``GET /api/models/``, ``inference.views.api_models``) keeps its own check.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from inference.models import ModelVersion
from inference.registry import (
    can_manage_models,
    metric_lines,
    model_body,
    model_register,
    model_verify,
    notice,
)


def _require_manager(user: Any) -> None:
    if not can_manage_models(user):
        raise PermissionDenied(_("Only staff and model administrators manage the model registry."))


class RegisterModelForm(forms.Form):
    directory = forms.CharField(
        label=gettext_lazy("Model directory on the server"),
        max_length=500,
        help_text=gettext_lazy(
            "A directory written by import-published, train-detector or train-diagnosis."
        ),
    )
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    version = forms.CharField(label=gettext_lazy("Version"), max_length=50)


#: Runs of a ``localisation`` record, in the order shown (first version, then today's heatmaps).
LOCALISATION_RUNS = ("before", "after", "after_model_target")


def localisation_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Heatmap localisation figures of a model's records (``evaluate-heatmaps``): one row per
    run and lesion label (overall first), with the command and the phantom's data seed."""
    rows = []
    for source, record in sorted(metrics.items()):
        block = record.get("localisation") if isinstance(record, dict) else None
        if not isinstance(block, dict):
            continue
        for run in LOCALISATION_RUNS:
            figures = block.get(run)
            if not isinstance(figures, dict) or not isinstance(figures.get("overall"), dict):
                continue
            groups = [
                ("overall", figures["overall"]),
                *sorted((figures.get("per_label") or {}).items()),
            ]
            for label, group in groups:
                if not group.get("n"):
                    continue
                low, high = group.get("hit_rate_ci") or (None, None)
                rows.append(
                    {
                        "source": source,
                        "run": run,
                        "label": label,
                        "n": group["n"],
                        "hit_rate": group.get("hit_rate"),
                        "ci_low": low,
                        "ci_high": high,
                        "mass_share": group.get("mass_share"),
                        "chance": group.get("chance"),
                        "beats_chance": bool(group.get("beats_chance")),
                        "command": figures.get("command", ""),
                        "data_seed": block.get("data_seed"),
                    }
                )
    return rows


@login_required
def models_page(request: HttpRequest) -> HttpResponse:
    """List registered models; register one from a server path (POST)."""
    _require_manager(request.user)
    form = RegisterModelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            model = model_register(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            messages.success(
                request,
                _("Registered %(name)s %(version)s (%(count)d files, SHA-256 recorded).")
                % {"name": model.name, "version": model.version, "count": len(model.files)},
            )
            return redirect(f"{reverse('inference:models')}#model-{model.pk}")
    models = [
        {
            "model": m,
            "notice": notice(m),
            "metrics": metric_lines(m.metrics),
            "localisation": localisation_rows(m.metrics),
        }
        for m in ModelVersion.objects.select_related("registered_by").order_by("name", "-created")
    ]
    return render(request, "inference/models.html", {"form": form, "models": models})


@login_required
@require_POST
def model_verify_page(request: HttpRequest, model_id: str) -> HttpResponse:
    """Hash every file of a model again; the result is stored and shown on the page."""
    _require_manager(request.user)
    model = get_object_or_404(ModelVersion, pk=model_id)
    verification = model_verify(actor=request.user, model_version=model)
    if verification.ok:
        messages.success(
            request,
            _("%(name)s %(version)s verified: all %(count)d files match their SHA-256.")
            % {"name": model.name, "version": model.version, "count": verification.checked},
        )
    else:
        messages.error(
            request,
            _("%(name)s %(version)s FAILED verification and cannot run: %(problems)s")
            % {
                "name": model.name,
                "version": model.version,
                "problems": "; ".join(verification.problems),
            },
        )
    return redirect(f"{reverse('inference:models')}#model-{model.pk}")


# ---------------------------------------------------------------- API


class ModelFileSerializer(serializers.Serializer):
    path = serializers.CharField()
    sha256 = serializers.CharField()
    bytes = serializers.IntegerField(required=False)


class RegisteredModelSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    version = serializers.CharField()
    profile = serializers.CharField()
    provenance = serializers.CharField()
    provenance_detail = serializers.JSONField()
    directory = serializers.CharField()
    demo = serializers.BooleanField()
    notice = serializers.CharField()
    metrics = serializers.JSONField()
    files = ModelFileSerializer(many=True)
    registered_at = serializers.DateTimeField()
    verified_at = serializers.DateTimeField(allow_null=True)
    verification_ok = serializers.BooleanField(allow_null=True)
    verification_problems = serializers.ListField(child=serializers.CharField())


class RegisterModelSerializer(serializers.Serializer):
    directory = serializers.CharField(max_length=500)
    name = serializers.CharField(max_length=100)
    version = serializers.CharField(max_length=50)


class RegistryErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


@extend_schema(
    request=RegisterModelSerializer,
    responses={
        201: RegisteredModelSerializer,
        400: OpenApiResponse(RegistryErrorSerializer, description="refused (see detail)"),
        403: OpenApiResponse(RegistryErrorSerializer, description="not a model administrator"),
    },
)
@api_view(["POST"])
def api_model_register(request: Request) -> Response:
    """Register a model directory on the server (its files' SHA-256 computed and checked)."""
    _require_manager(request.user)
    serializer = RegisterModelSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    try:
        model = model_register(actor=request.user, **serializer.validated_data)
    except ValidationError as exc:
        return Response({"detail": "; ".join(exc.messages)}, status=400)
    return Response(RegisteredModelSerializer(model_body(model)).data, status=201)


@extend_schema(
    request=None,
    responses={
        200: RegisteredModelSerializer,
        403: OpenApiResponse(RegistryErrorSerializer, description="not a model administrator"),
    },
)
@api_view(["POST"])
def api_model_verify(request: Request, model_id: str) -> Response:
    """Hash every file of a model again; the model's verification fields hold the result."""
    _require_manager(request.user)
    model = get_object_or_404(ModelVersion, pk=model_id)
    model_verify(actor=request.user, model_version=model)
    return Response(RegisteredModelSerializer(model_body(model)).data)
