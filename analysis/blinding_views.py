"""The blinding audit's page and API (coordinators of a source trial): aggregate AUC only.

The audit itself is :mod:`analysis.blinding`; it runs as an analysis job, and these views
only start it or show it (progress while it runs, the aggregate when done). The paths are
those the coordinators have always used (``studies/<id>/reading/blinding-audit/`` and its
API twin), now served by the analysis app.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis.blinding import blinding_audit_job
from analysis.jobs import job_state
from trials.models import Role
from trials.permissions import access_study


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def blinding_audit_page(request: HttpRequest, study_id: Any) -> HttpResponse:
    """Can a machine tell AI from junior material? The aggregate AUC only, never per case.

    Shows the audit of the current material (starting it if there is none) with its
    progress while it runs; POST runs it again.
    """
    study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
    job = blinding_audit_job(study, request.user, again=request.method == "POST")
    if request.method == "POST":
        return redirect("analysis:blinding-audit", study_id=study.pk)
    job.refresh_from_db()
    context = {
        "study": study,
        "demo_banner": study.is_demo,
        "job": job,
        "outcome": job.result if job.status == "complete" else None,
        "retry_url": reverse("analysis:blinding-audit", args=[study.pk]),
    }
    return render(request, "analysis/blinding_audit.html", context)


class BlindingAuditApi(APIView):
    """The blinding audit's aggregate result (AUC, CI, warning); never a per-case source.

    GET: the audit of the current material with its job (202 while it runs, started if
    there is none); POST: run it again (202). The audit runs as a Celery job.
    """

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, study_id: Any) -> Response:
        return self._answer(request, study_id, again=False)

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, study_id: Any) -> Response:
        return self._answer(request, study_id, again=True)

    def _answer(self, request: Request, study_id: Any, *, again: bool) -> Response:
        study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
        job = blinding_audit_job(study, request.user, again=again)
        job.refresh_from_db()
        body = {"job": job_state(job)}
        if job.status != "complete":
            return Response(body, status=status.HTTP_202_ACCEPTED)
        return Response({**job.result, **body})
