"""Page and API of a counterbalanced crossover (split-plot) study's allocation.

The coordinator makes the allocation once, in draft (:func:`trials.services.allocation.
crossover_allocation_generate`): readers and cases into blocks, a sequence per reader
(AI first or unaided first). The page and API show block sizes and the SHA-256
commitment while the study runs, and disclose the document with its verification only
after unblinding (:func:`trials.services.allocation.allocation_disclose` refuses before).
Which block and sequence a reader has is not shown here before unblinding: his own
worklist tells him which session opens first.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trials.forms import TransitionForm
from trials.models import AllocationList, Role, Study, StudyDesign, StudyStatus
from trials.permissions import access_study
from trials.services.allocation import allocation_disclose, crossover_allocation_generate


def crossover_state(study: Study) -> dict[str, Any]:
    """What the coordinator may know of the allocation now (the document only after unblinding)."""
    allocation = AllocationList.objects.filter(study=study).first()
    state: dict[str, Any] = {
        "status": study.status,
        "design": study.design,
        "blocks": study.crossover_blocks,
        "generated": allocation is not None,
        "commitment": study.allocation_commitment or None,
        "block_readers": [],
        "block_cases": [],
        "disclosure": None,
    }
    if allocation is None:
        return state
    readers = Counter(allocation.crossover_readers.values_list("block", flat=True))
    cases = Counter(allocation.crossover_cases.values_list("block", flat=True))
    state["block_readers"] = [readers[b] for b in range(study.crossover_blocks)]
    state["block_cases"] = [cases[b] for b in range(study.crossover_blocks)]
    if study.status == StudyStatus.UNBLINDED:
        state["disclosure"] = allocation_disclose(study=study).as_dict()
    return state


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def crossover_allocation(request: HttpRequest, study_id: Any) -> HttpResponse:
    """Blocks and sequences: make the allocation (draft), its commitment, its disclosure."""
    study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
    if study.design != StudyDesign.COUNTERBALANCED_CROSSOVER:
        return render(
            request,
            "readers/refused.html",
            {"reason": _("This study is not a counterbalanced crossover.")},
            status=404,
        )
    status_code = 200
    if request.method == "POST":
        try:
            crossover_allocation_generate(actor=request.user, study=study)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            status_code = 400
        else:
            messages.success(request, _("The allocation is made; it cannot change."))
            return redirect("readers:crossover", study_id=study.pk)
    context = {
        "study": study,
        "demo_banner": study.is_demo,
        "state": crossover_state(study),
        "unblind_form": TransitionForm(initial={"to": StudyStatus.UNBLINDED}),
        "can_unblind": study.status == StudyStatus.LOCKED,
    }
    return render(request, "readers/crossover.html", context, status=status_code)


class CrossoverAllocationApi(APIView):
    """A counterbalanced crossover's allocation: state and commitment (GET); make it (POST).

    The document, seed and nonce are returned only after unblinding, with the verification.
    """

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, study_id: Any) -> Response:
        study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
        if study.design != StudyDesign.COUNTERBALANCED_CROSSOVER:
            return Response(
                {"detail": _("This study is not a counterbalanced crossover.")},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(crossover_state(study))

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, study_id: Any) -> Response:
        study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
        if "seed" in request.data:
            return Response(
                {"detail": _("The seed is drawn by the server; it cannot be chosen.")},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            crossover_allocation_generate(actor=request.user, study=study)
        except ValidationError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(crossover_state(study), status=status.HTTP_201_CREATED)
