"""Coordinator pages of the trials app (server-rendered)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from trials import services
from trials.audit import material_set_redacted
from trials.forms import (
    DatasetForm,
    GoldStandardAmendForm,
    GoldStandardSignOffForm,
    ImportForm,
    MemberForm,
    SiteForm,
    StudyForm,
    StudySettingsForm,
    TransitionForm,
)
from trials.models import (
    STATUS_TRANSITIONS,
    Case,
    GoldStandard,
    Rendition,
    RenditionPurpose,
    Role,
    Study,
    StudyStatus,
)
from trials.permissions import (
    access_case,
    access_study,
    can_create_studies,
    gold_standard_refusal,
    study_roles,
)
from trials.selectors import (
    ENROLMENT_ANSWER,
    studies_for_user,
    study_cases,
    study_datasets_with_counts,
    study_members,
)
from trials.services.archives import archive_extract
from trials.services.gold_standards import gold_standard_content_sha256
from trials.services.studies import SIGNED_TRANSITIONS
from trials.signatures import Signature, signature_make, signatures_of, signatures_of_study


def _studies_with_roles(user: Any) -> list[tuple[Study, list[str]]]:
    """The studies the user belongs to, each with his roles in it (sorted)."""
    return [(s, sorted(study_roles(user, s))) for s in studies_for_user(user=user)]


def _signature(request: HttpRequest, data: dict[str, Any]) -> Signature:
    """The user's signature with the form's ``password`` and ``meaning`` (a wrong password
    raises ValidationError before any change)."""
    return signature_make(
        user=request.user, password=data["password"], meaning=data["meaning"], request=request
    )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Landing page: the studies the user belongs to, with his roles."""
    studies = _studies_with_roles(request.user)
    return render(request, "home.html", {"studies": studies, "form": StudyForm()})


@login_required
@require_POST
def study_create(request: HttpRequest) -> HttpResponse:
    """Create a study (platform permission needed); its creator becomes its coordinator."""
    if not can_create_studies(request.user):
        raise PermissionDenied(_("Creating studies needs the platform permission to do so."))
    form = StudyForm(request.POST)
    if not form.is_valid():
        studies = _studies_with_roles(request.user)
        return render(request, "home.html", {"studies": studies, "form": form}, status=400)
    try:
        study = services.study_create(actor=request.user, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return redirect("home")
    return redirect("trials:study", study_id=study.pk)


@login_required
def study_page(request: HttpRequest, study_id: str) -> HttpResponse:
    """A study: datasets with case counts, members, status and its transitions."""
    study = access_study(request.user, study_id, roles=(Role.COORDINATOR, Role.STATISTICIAN))
    roles = study_roles(request.user, study)
    context = {
        "study": study,
        "is_coordinator": Role.COORDINATOR in roles,
        "datasets": study_datasets_with_counts(study=study),
        "members": study_members(study=study) if Role.COORDINATOR in roles else [],
        "cases": study_cases(study=study)[:500],
        "gold_refusal": gold_standard_refusal(request.user, study),
        "transitions": STATUS_TRANSITIONS[study.status],
        "signed_transitions": SIGNED_TRANSITIONS,
        "transition_form": TransitionForm(),
        "signatures": signatures_of_study(study.pk, object_type=Study._meta.label_lower),
        "site_form": SiteForm(),
        "dataset_form": DatasetForm(),
        "member_form": MemberForm(study=study),
        "settings_form": StudySettingsForm.of(study) if study.status == StudyStatus.DRAFT else None,
        "demo_banner": study.is_demo,
    }
    return render(request, "trials/study.html", context)


@login_required
@require_POST
def study_transition(request: HttpRequest, study_id: str) -> HttpResponse:
    """Move a study to its next status, after explicit confirmation."""
    study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
    form = TransitionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Please confirm the change."))
        return redirect("trials:study", study_id=study.pk)
    to = form.cleaned_data["to"]
    try:
        signature = None
        if to in SIGNED_TRANSITIONS:  # a wrong password is refused here, before any change
            signature = _signature(request, form.cleaned_data)
        services.study_transition(
            actor=request.user,
            study=study,
            to=to,
            reason=form.cleaned_data["reason"],
            signature=signature,
        )
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        messages.success(request, _("The study is now %s.") % form.cleaned_data["to"])
    return redirect("trials:study", study_id=study.pk)


@login_required
@require_POST
def study_settings(request: HttpRequest, study_id: str) -> HttpResponse:
    """Change a draft study's reading settings (audited; refused once it is open)."""
    study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
    form = StudySettingsForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, "; ".join(str(e) for errors in form.errors.values() for e in errors)
        )
        return redirect("trials:study", study_id=study.pk)
    changes = {
        k: v
        for k, v in form.cleaned_data.items()
        if v is not None and getattr(study, k) != v  # a blank field leaves the setting as it is
    }
    try:
        if changes:
            services.study_update_settings(actor=request.user, study=study, **changes)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        messages.success(request, _("Settings saved."))
    return redirect("trials:study", study_id=study.pk)


@login_required
@require_POST
def study_add(request: HttpRequest, study_id: str, what: str) -> HttpResponse:
    """Add a site, a dataset or a member from the study page."""
    study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
    form: SiteForm | DatasetForm | MemberForm
    try:
        if what == "site":
            form = SiteForm(request.POST)
            if form.is_valid():
                services.site_create(actor=request.user, study=study, **form.cleaned_data)
        elif what == "dataset":
            form = DatasetForm(request.POST)
            if form.is_valid():
                services.dataset_create(actor=request.user, study=study, **form.cleaned_data)
        else:
            form = MemberForm(request.POST, study=study)
            if form.is_valid():
                user = form.cleaned_data["user"]
                if user is not None:  # an unknown username gets the same answer
                    services.membership_add(
                        actor=request.user, study=study, user=user, role=form.cleaned_data["role"]
                    )
                messages.success(
                    request, ENROLMENT_ANSWER % {"username": form.cleaned_data["username"]}
                )
        if not form.is_valid():
            messages.error(request, _("Please correct the form: %s") % form.errors.as_text())
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    return redirect("trials:study", study_id=study.pk)


@login_required
def case_import(request: HttpRequest, study_id: str) -> HttpResponse:
    """Upload a ZIP of manifest.csv + files; see every problem before anything is written."""
    study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
    report = None
    form = ImportForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        with tempfile.TemporaryDirectory() as scratch:
            try:
                manifest = archive_extract(
                    upload=form.cleaned_data["archive"], destination=Path(scratch)
                )
            except ValidationError as exc:
                messages.error(request, "; ".join(exc.messages))
                status = 400
            else:
                report = services.case_import(
                    actor=request.user,
                    study=study,
                    manifest=manifest,
                    dry_run=form.cleaned_data["dry_run"],
                )
                status = 200 if report.ok else 400
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "trials/import.html",
        {"study": study, "form": form, "report": report, "demo_banner": study.is_demo},
        status=status,
    )


def _gold_standard_context(case: Case, gold: GoldStandard | None) -> dict:
    """Sign-offs (each marked whether it still matches the content) and amendments."""
    if gold is None:
        return {"gold_signatures": [], "amendments": []}
    current = gold_standard_content_sha256(gold)
    signatures = [
        {"view": view, "current": view.content_sha256 == current}
        for view in signatures_of(gold)
        if view.purpose == "gold_standard.sign_off"
    ]
    amendments = gold.amendments.select_related("amended_by").order_by("created")
    return {"gold_signatures": signatures, "amendments": amendments, "gold_sha256": current}


def _case_page(
    request: HttpRequest,
    case: Case,
    *,
    amend_form: GoldStandardAmendForm | None = None,
    sign_off_form: GoldStandardSignOffForm | None = None,
    status: int = 200,
) -> HttpResponse:
    refusal = gold_standard_refusal(request.user, case.study)
    if refusal:
        context = {"study": case.study, "message": refusal, "demo_banner": case.study.is_demo}
        return render(request, "trials/refused.html", context, status=403)
    is_coordinator = Role.COORDINATOR in study_roles(request.user, case.study)
    gold = GoldStandard.objects.filter(case=case).first()
    if amend_form is None and gold is not None:
        amend_form = GoldStandardAmendForm(
            initial={
                "conditions": gold.conditions,
                "ivh_grade": gold.ivh_grade,
                "volpe_grade": gold.volpe_grade,
            }
        )
    material_sets = (
        case.material_sets.prefetch_related(
            Prefetch("renditions", Rendition.objects.filter(purpose=RenditionPurpose.MATERIAL_VIEW))
        )
        if is_coordinator
        else []
    )
    for material_set in material_sets:  # a junior's answer is hidden until the lock
        # An attribute for the template only, like a queryset annotation.
        material_set.redacted = material_set_redacted(  # type: ignore[attr-defined]
            material_set, study=case.study
        )
    context = {
        "case": case,
        "study": case.study,
        "assets": case.assets.prefetch_related("renditions"),
        "renditions": case.renditions.filter(material_set__isnull=True),
        "material_sets": material_sets,
        "is_coordinator": is_coordinator,
        "amend_form": amend_form,
        "sign_off_form": sign_off_form or GoldStandardSignOffForm(),
        "demo_banner": case.study.is_demo,
        **_gold_standard_context(case, gold),
    }
    return render(request, "trials/case.html", context, status=status)


@login_required
def case_page(request: HttpRequest, case_id: str) -> HttpResponse:
    """A case with its metadata, gold standard (sign-offs, amendments), files and renditions."""
    case = access_case(request.user, case_id, roles=(Role.COORDINATOR, Role.STATISTICIAN))
    return _case_page(request, case)


@login_required
@require_POST
def gold_standard_sign_off(request: HttpRequest, case_id: str) -> HttpResponse:
    """Sign the case's gold standard as it is now (password and meaning)."""
    case = access_case(request.user, case_id, roles=(Role.COORDINATOR,))
    form = GoldStandardSignOffForm(request.POST)
    if not form.is_valid():
        return _case_page(request, case, sign_off_form=form, status=400)
    try:
        signature = _signature(request, form.cleaned_data)
        services.gold_standard_sign_off(
            actor=request.user, gold_standard=case.gold_standard, signature=signature
        )
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return _case_page(request, case, sign_off_form=form, status=400)
    messages.success(request, _("The gold standard is signed."))
    return redirect("trials:case", case_id=case.pk)


@login_required
@require_POST
def gold_standard_amend(request: HttpRequest, case_id: str) -> HttpResponse:
    """Correct the case's gold standard: new values, a reason and a signature."""
    case = access_case(request.user, case_id, roles=(Role.COORDINATOR,))
    form = GoldStandardAmendForm(request.POST)
    if not form.is_valid():
        return _case_page(request, case, amend_form=form, status=400)
    data = form.cleaned_data
    try:
        signature = _signature(request, data)
        services.gold_standard_amend(
            actor=request.user,
            gold_standard=case.gold_standard,
            signature=signature,
            reason=data["reason"],
            conditions=data["conditions"],
            ivh_grade=data["ivh_grade"],
            volpe_grade=data["volpe_grade"],
        )
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return _case_page(request, case, amend_form=form, status=400)
    messages.success(request, _("The gold standard is amended."))
    return redirect("trials:case", case_id=case.pk)


@login_required
def rendition_file(request: HttpRequest, rendition_id: str) -> HttpResponseBase:
    """Serve a rendition to the study's coordinators (readers use their own opaque routes)."""
    from django.http import FileResponse, Http404

    rendition = (
        Rendition.objects.select_related("case__study", "material_set")
        .filter(pk=rendition_id)
        .first()
    )
    if rendition is None or not rendition.file:
        raise Http404
    access_study(request.user, rendition.case.study_id, roles=(Role.COORDINATOR,))
    if rendition.material_set is not None and material_set_redacted(
        rendition.material_set, study=rendition.case.study
    ):
        raise Http404  # a junior's views are his answer: hidden until the lock, as on the pages
    response = FileResponse(rendition.file.open("rb"), content_type=rendition.content_type)
    response["Cache-Control"] = "private, no-store"
    return response
