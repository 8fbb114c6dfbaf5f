"""The planner's page and API (thin: access, :mod:`analysis.planner`, render)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from analysis.jobs import job_state
from analysis.models import AnalysisJob, JobStatus
from analysis.planner import (
    POWER_CHECK,
    ROLES,
    PlanRefused,
    make_plan,
    pilot_components,
    pilot_studies,
    start_check,
    typed_components,
)
from analysis.stats.power import ANALYSES, METHODS, DBMComponents, ORComponents
from trials.permissions import access_study

COMPONENTS = ("var_r", "var_tr", "var_error", "cov1", "cov2", "cov3", "n_cases", "var_tc")


class PlanSerializer(serializers.Serializer):
    """What to plan: a pilot study or typed components, the design and the test."""

    pilot_study = serializers.UUIDField(required=False, allow_null=True)
    components = serializers.DictField(child=serializers.FloatField(), required=False)
    method = serializers.ChoiceField(choices=METHODS, default="OR")
    analysis = serializers.ChoiceField(choices=ANALYSES, default="RRRC")
    readers = serializers.IntegerField(min_value=1, max_value=1000)
    cases = serializers.IntegerField(min_value=2, required=False, allow_null=True)
    power = serializers.FloatField(min_value=0.01, max_value=0.999, required=False, allow_null=True)
    effect = serializers.FloatField(required=False, allow_null=True)
    alpha = serializers.FloatField(min_value=0.0001, max_value=0.5, default=0.05)
    simulate = serializers.BooleanField(default=False)


class PlanForm(forms.Form):
    pilot_study = forms.ChoiceField(label=gettext_lazy("Pilot study"), required=False)
    method = forms.ChoiceField(label=gettext_lazy("Method"), choices=[(m, m) for m in METHODS])
    analysis = forms.ChoiceField(label=gettext_lazy("Analysis"), choices=[(a, a) for a in ANALYSES])
    readers = forms.IntegerField(label=gettext_lazy("Readers"), min_value=1, initial=10)
    cases = forms.IntegerField(
        label=gettext_lazy("Cases (leave empty to find them)"), min_value=2, required=False
    )
    power = forms.FloatField(
        label=gettext_lazy("Target power"),
        min_value=0.01,
        max_value=0.999,
        initial=0.8,
        required=False,
    )
    effect = forms.FloatField(
        label=gettext_lazy("Effect size (AUC difference)"), required=False, initial=0.05
    )
    alpha = forms.FloatField(
        label=gettext_lazy("α (two-sided)"), min_value=0.0001, max_value=0.5, initial=0.05
    )
    var_r = forms.FloatField(label=gettext_lazy("Var(R)"), required=False)
    var_tr = forms.FloatField(label=gettext_lazy("Var(TR)"), required=False)
    var_error = forms.FloatField(label=gettext_lazy("Var(error) (DBM: σ²_ε)"), required=False)
    cov1 = forms.FloatField(label=gettext_lazy("Cov1"), required=False)
    cov2 = forms.FloatField(label=gettext_lazy("Cov2"), required=False)
    cov3 = forms.FloatField(label=gettext_lazy("Cov3"), required=False)
    n_cases = forms.IntegerField(label=gettext_lazy("Pilot cases (OR)"), required=False)
    var_tc = forms.FloatField(label=gettext_lazy("σ²_TC (DBM)"), required=False)
    simulate = forms.BooleanField(label=gettext_lazy("Check by simulation"), required=False)

    def __init__(self, *args: Any, pilots: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", _("typed components"))] + [(str(s.pk), s.title) for s in pilots]
        self.fields["pilot_study"].choices = choices  # type: ignore[attr-defined]


def _plan(user: Any, data: dict[str, Any]) -> dict[str, Any]:
    """The plan as a JSON-ready dict (raises :class:`PlanRefused`)."""
    source: dict[str, Any]
    components: ORComponents | DBMComponents
    effect: Any  # validated form input (a number or empty), or the pilot's observed effect
    if data.get("pilot_study"):
        components, observed, pilot = pilot_components(user=user, study_id=data["pilot_study"])
        source = {
            "kind": "pilot",
            "study": str(pilot.pk),
            "title": pilot.title,
            "observed_effect": observed,
        }
        effect = data.get("effect") if data.get("effect") not in (None, "") else observed
        if data["method"] == "DBM":
            components = components.to_dbm()
    else:
        typed = {k: v for k, v in (data.get("components") or {}).items() if v is not None}
        components = typed_components(data["method"], typed)
        source = {"kind": "typed"}
        effect = data.get("effect")
        if effect in (None, ""):
            raise PlanRefused(_("With typed components, give the effect size."))
    if data.get("cases") in (None, "") and data.get("power") in (None, ""):
        raise PlanRefused(
            _("Give the number of cases (for power) or the target power (for cases).")
        )
    plan = make_plan(
        components,
        effect=float(effect),
        readers=int(data["readers"]),
        cases=data.get("cases") or None,
        power=data.get("power"),
        alpha=float(data["alpha"]),
        analysis=data["analysis"],
        method=data["method"],
    )
    return {"plan": plan, "source": source}


@extend_schema(request=PlanSerializer, responses=OpenApiTypes.OBJECT)
@api_view(["POST"])
def api_plan(request: Request, study_id: str) -> Response:
    """Power for J readers and K cases, or the K that reaches a target power (Hillis df).

    ``simulate`` also starts (or reuses) the Roe–Metz simulation check as an analysis job:
    ``check_job.url`` (:func:`api_check`) shows its progress, then its points and figure.
    """
    study = access_study(request.user, study_id, roles=ROLES)
    serializer = PlanSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    try:
        outcome = _plan(request.user, dict(serializer.validated_data))
    except PlanRefused as exc:
        return Response({"detail": exc.message}, status=exc.status)
    body: dict[str, Any] = {"result": outcome["plan"].to_dict(), "source": outcome["source"]}
    if serializer.validated_data.get("simulate"):
        job = start_check(study=study, actor=request.user, plan=outcome["plan"])
        job.refresh_from_db()
        body["check_job"] = _check_body(job)
    return Response(body)


@extend_schema(responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
def api_check(request: Request, study_id: str, job_id: str) -> Response:
    """The simulation check's job: progress while it runs; its points and figure when done."""
    study = access_study(request.user, study_id, roles=ROLES)
    return Response(_check_body(_check_job(study, job_id)))


def _check_job(study: Any, job_id: str) -> AnalysisJob:
    """The study's simulation-check job ``job_id`` (404 for another study's or kind's)."""
    return get_object_or_404(AnalysisJob, pk=job_id, study=study, kind=POWER_CHECK)


def _check_body(job: AnalysisJob) -> dict[str, Any]:
    """The check's job as the API shows it: status, progress, and the points when done."""
    complete = job.status == JobStatus.COMPLETE
    return job_state(job) | {
        "url": reverse("planner:api-check", args=[job.study_id, job.pk]),
        "result": job.result if complete else None,
        "figure": _figure(job),
    }


def _figure(job: Any) -> dict[str, Any] | None:
    from analysis.power_check import power_check_figure

    if job is None or job.status != "complete" or not job.result.get("points"):
        return None
    labels = {
        "title": _("Simulation check (Roe–Metz, OR RRRC, Hillis df)"),
        "cases": _("Cases"),
        "power": _("Power / rejection rate"),
        "predicted": _("predicted power"),
        "simulated": _("simulated rejection rate (95 % MC interval)"),
        "null": _("type-I error under the null"),
        "alpha": _("α"),
    }
    return power_check_figure(job.result, labels).to_plotly_json()


@login_required
def planner_page(request: HttpRequest, study_id: str) -> HttpResponse:
    """The planner form, its result and the simulation check's plot."""
    study = access_study(request.user, study_id, roles=ROLES)
    form = PlanForm(request.POST or None, pilots=pilot_studies(request.user))
    context: dict[str, Any] = {"study": study, "form": form, "demo_banner": study.is_demo}
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data["components"] = {k: data.get(k) for k in COMPONENTS}
        try:
            outcome = _plan(request.user, data)
        except PlanRefused as exc:
            context["error"] = exc.message
        else:
            context |= {"plan": outcome["plan"], "source": outcome["source"]}
            if data.get("simulate"):
                job = start_check(study=study, actor=request.user, plan=outcome["plan"])
                job.refresh_from_db()
                context |= _check_context(study, job)
    return render(request, "analysis/planner.html", context)


def _check_context(study: Any, job: AnalysisJob) -> dict[str, Any]:
    return {
        "job": job,
        "figure": _figure(job),
        "poll_url": reverse("planner:check", args=[study.pk, job.pk]),
    }


@login_required
def planner_check(request: HttpRequest, study_id: str, job_id: str) -> HttpResponse:
    """The check's part of the planner page, polled by htmx: progress, then the plot."""
    study = access_study(request.user, study_id, roles=ROLES)
    context = {"study": study, **_check_context(study, _check_job(study, job_id))}
    return render(request, "analysis/_planner_check.html", context)
