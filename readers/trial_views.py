"""Pages of the source trial: preparation, source guess, allocation, material import.

The blinding audit is an analysis: its page is :mod:`analysis.blinding_views`.

Reader pages never name a material's source, author or probability; coordinator pages
show the allocation's commitment while the study runs and disclose the allocation only
after unblinding (:func:`trials.services.allocation.allocation_disclose` refuses before).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from readers import selectors, services
from readers.forms import AllocationForm, GuessForm, MaterialImportForm, PrepareForm
from readers.models import Assignment, SessionPhase, SourceGuess
from readers.permissions import access_assignment
from readers.preparation import VIEWS, material_import, material_prepare, view_sweeps
from readers.source_trial import source_guess_lock, study_juniors_seniors
from trials.forms import TransitionForm
from trials.models import AllocationList, Role, StudyDesign, StudyStatus
from trials.permissions import access_study
from trials.selectors import case_sweeps
from trials.services.allocation import allocation_disclose, allocation_generate
from trials.services.archives import archive_extract


def _refused(
    request: HttpRequest, exc: services.ReadingRefused, assignment: Assignment
) -> HttpResponse:
    context = {"reason": exc.message, "opens_at": exc.opens_at, "session": assignment.session}
    return render(request, "readers/refused.html", context, status=exc.status_code)


def _prepare_views(
    assignment: Assignment,
) -> tuple[list[tuple[str, int]], dict[str, tuple[str, ...]]]:
    """(view, frame count of its sweep: the longest where several show it) and each view's
    sweeps (coronal; sagittal, or left and right sagittal sweeps)."""
    sweeps = case_sweeps(case=assignment.case)
    options = view_sweeps(sweeps)
    counts = {o: a.frame_count for o, a in sweeps.items()}
    views = [(view, max(counts.get(o, 0) for o in options[view])) for view in VIEWS]
    return views, options


def prepare_page(request: HttpRequest, assignment: Assignment) -> HttpResponse:
    """A junior's preparation of one case: scrub the sweeps, pick each view, diagnose."""
    session = assignment.session
    views, options = _prepare_views(assignment)
    if request.method == "POST":
        form = PrepareForm(request.POST, views=views, sweep_options=options)
        if form.is_valid():
            try:
                material_prepare(
                    reader=request.user,
                    assignment=assignment,
                    picks=form.picks(),
                    initial_severe=form.cleaned_data["initial_severe"],
                    client_event_id=form.cleaned_data["client_event_id"],
                    sweeps=form.sweeps(),
                )
            except services.AlreadyAnswered:
                return redirect("readers:session", session_id=session.pk)
            except services.ReadingRefused as exc:
                return _refused(request, exc, assignment)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return redirect("readers:session", session_id=session.pk)
        status = 400
    else:
        try:
            assignment = services.assignment_serve(reader=request.user, assignment=assignment)
        except services.AlreadyAnswered:
            return redirect("readers:session", session_id=session.pk)
        except services.ReadingRefused as exc:
            return _refused(request, exc, assignment)
        form, status = PrepareForm(views=views, sweep_options=options), 200
    slots = selectors.assignment_slots(assignment=assignment)
    context = {
        "assignment": assignment,
        "session": session,
        "study": session.study,
        "demo_banner": session.study.is_demo,
        "total": session.assignments.count(),
        "videos": [s for s in slots if s.group == "case" and s.kind == "video"],
        "form": form,
        # view, its sweeps (space-separated, as the cine slots are labelled), frame, not
        # obtainable, and the sweep choice where more than one sweep shows the view
        "view_rows": [
            (
                view,
                " ".join(options[view]),
                form[f"frame_{view}"],
                form[f"missing_{view}"],
                form[f"sweep_{view}"] if f"sweep_{view}" in form.fields else None,
            )
            for view, _count in views
        ],
    }
    return render(request, "readers/prepare.html", context, status=status)


@login_required
@never_cache
@require_POST
def case_guess(request: HttpRequest, token: str) -> HttpResponse:
    """Save and lock the senior's source guess; the diagnosis form opens after it."""
    assignment = access_assignment(request.user, token)
    form = GuessForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose AI, junior or don't know."))
        return redirect("readers:case", token=token)
    try:
        source_guess_lock(
            reader=request.user,
            assignment=assignment,
            guess=form.cleaned_data["guess"],
            client_event_id=form.cleaned_data["client_event_id"],
        )
    except services.ReadingRefused as exc:
        return _refused(request, exc, assignment)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("readers:case", token=token)


def review_context(assignment: Assignment) -> dict[str, Any]:
    """The guess part of a blinded review's case page."""
    if assignment.session.phase != SessionPhase.BLINDED_REVIEW:
        return {}
    guess = SourceGuess.objects.filter(assignment=assignment).first()
    return {"guess_form": GuessForm() if guess is None else None, "locked_guess": guess}


# ----------------------------------------------------------------- coordinator pages


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def source_trial(request: HttpRequest, study_id: Any) -> HttpResponse:
    """Randomization and allocation, the commitment, unblinding and the verification."""
    study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
    if study.design != StudyDesign.SOURCE_BLINDED:
        return render(
            request,
            "readers/refused.html",
            {"reason": _("This study is not a blinded source trial.")},
            status=404,
        )
    juniors, seniors = study_juniors_seniors(study)
    form = AllocationForm(request.POST or None, initial={"stratify_by": "none"})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                allocation_generate(
                    actor=request.user,
                    study=study,
                    juniors=juniors,
                    seniors=seniors,
                    stratify_by=form.cleaned_data["stratify_by"],
                    block_sizes=form.cleaned_data["block_sizes"],
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, _("The allocation is made; it cannot change."))
                return redirect("readers:source-trial", study_id=study.pk)
        status = 400
    allocation = AllocationList.objects.filter(study=study).first()
    disclosure = None
    if study.status == StudyStatus.UNBLINDED and allocation is not None:
        try:
            disclosure = allocation_disclose(study=study)
        except PermissionDenied:  # pragma: no cover - checked by the status above
            disclosure = None
    context = {
        "study": study,
        "demo_banner": study.is_demo,
        "juniors": juniors,
        "seniors": seniors,
        "form": form,
        "allocation": allocation,
        "group_sizes": [len(members) for members in allocation.groups.values()]
        if allocation
        else [],
        "commitment": study.allocation_commitment,
        "disclosure": disclosure,
        "unblind_form": TransitionForm(initial={"to": StudyStatus.UNBLINDED}),
        "can_unblind": study.status == StudyStatus.LOCKED,
    }
    return render(request, "readers/source_trial.html", context, status=status)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def materials_import(request: HttpRequest, study_id: Any) -> HttpResponse:
    """Import human material prepared elsewhere (ZIP of manifest.csv and images)."""
    study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
    form = MaterialImportForm(request.POST or None, request.FILES or None)
    report, status = None, 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            with tempfile.TemporaryDirectory() as scratch:
                try:
                    manifest = archive_extract(
                        upload=form.cleaned_data["archive"], destination=Path(scratch)
                    )
                except ValidationError as exc:
                    messages.error(request, " ".join(exc.messages))
                else:
                    report = material_import(
                        actor=request.user,
                        study=study,
                        manifest=manifest,
                        dry_run=form.cleaned_data["dry_run"],
                        source=form.cleaned_data["source"],
                        reason=form.cleaned_data["reason"],
                    )
                    status = 200 if report.ok else 400
    context = {"study": study, "demo_banner": study.is_demo, "form": form, "report": report}
    return render(request, "readers/materials_import.html", context, status=status)
