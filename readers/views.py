"""Pages of the reading workstation and of its coordinator side; the media of a case.

Thin: each view checks access, calls one service or selector and renders. A reader
reaches cases only through opaque assignment tokens and media only through opaque,
per-assignment slot names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from readers import selectors, services
from readers.forms import (
    AnswerForm,
    EnrolForm,
    QualitativeForm,
    QualitativeReviseForm,
    ReviewForm,
    ReviewReviseForm,
    ReviseForm,
    SessionCreateForm,
    draft_initial,
    rating_field_apply,
    revise_initial,
)
from readers.models import Assignment, ReadingSession, SessionPhase
from readers.permissions import access_assignment, access_session
from trials.models import Role
from trials.permissions import access_study
from trials.selectors import ENROLMENT_ANSWER

#: Content types by rendition kind: the same for every source (DESIGN.md blinding rules).
_NEUTRAL_TYPES = {"image": "image/png", "video": "video/mp4"}
_CHUNK = 64 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _refused(
    request: HttpRequest, exc: services.ReadingRefused, session: ReadingSession | None
) -> HttpResponse:
    context = {"reason": exc.message, "opens_at": exc.opens_at, "session": session}
    return render(request, "readers/refused.html", context, status=exc.status_code)


@login_required
@never_cache
def worklist(request: HttpRequest) -> HttpResponse:
    """The reader's sessions: progress, what is open and when the next opens."""
    return render(
        request,
        "readers/worklist.html",
        {"summaries": selectors.reader_worklist(user=request.user)},
    )


@login_required
@never_cache
def session_continue(request: HttpRequest, session_id: Any) -> HttpResponse:
    """Go to the reader's next case of a session, or say why the session is closed."""
    session = access_session(request.user, session_id)
    summary = selectors.session_summary(session=session)
    if summary.next_token:
        return redirect("readers:case", token=summary.next_token)
    if session.completed_at is not None:
        return render(request, "readers/session_done.html", {"summary": summary})
    exc = services.ReadingRefused(
        summary.opening.reason or _("Nothing to read."), opens_at=summary.opening.at
    )
    return _refused(request, exc, session)


#: The answer form of each phase (the unaided and aided phases use :class:`AnswerForm`).
PHASE_FORMS: dict[str, Any] = {
    SessionPhase.BLINDED_REVIEW: ReviewForm,
    SessionPhase.QUALITATIVE: QualitativeForm,
}
#: The form that changes a submitted answer: the phase's fields and a reason.
PHASE_REVISE_FORMS: dict[str, Any] = {
    SessionPhase.BLINDED_REVIEW: ReviewReviseForm,
    SessionPhase.QUALITATIVE: QualitativeReviseForm,
}


def _case_context(assignment: Assignment, form: Any) -> dict[str, Any]:
    from readers.trial_views import review_context

    slots = selectors.assignment_slots(assignment=assignment)
    session = assignment.session
    return review_context(assignment) | {
        "assignment": assignment,
        "session": session,
        "study": session.study,
        "demo_banner": session.study.is_demo,
        "total": session.assignments.count(),
        "views": [s for s in slots if s.group == "case" and s.kind == "image"],
        "videos": [s for s in slots if s.group == "case" and s.kind == "video"],
        "material_views": [s for s in slots if s.group == "material"],
        "heatmaps": [s for s in slots if s.group == "heatmap"],
        "material": selectors.assignment_material(assignment=assignment),
        "form": form,
        "answered": assignment.answered_at is not None,
    }


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def case(request: HttpRequest, token: str) -> HttpResponse:
    """The case page: views, sweeps, (the phase's material) and the answer form."""
    assignment = access_assignment(request.user, token)
    session = assignment.session
    if session.phase == SessionPhase.PREPARATION:
        from readers.trial_views import prepare_page

        return prepare_page(request, assignment)
    form_class = PHASE_FORMS.get(session.phase, AnswerForm)
    collects_rating = session.study.collects_rating
    if request.method == "POST":
        form = rating_field_apply(form_class(request.POST), collects_rating=collects_rating)
        if form.is_valid():
            try:
                services.read_submit(
                    reader=request.user,
                    assignment=assignment,
                    answer=form.answer(),
                    client_event_id=form.cleaned_data["client_event_id"],
                    tool_use=form.cleaned_data.get("tool_use"),
                )
            except services.AlreadyAnswered:
                return redirect("readers:session", session_id=session.pk)
            except services.ReadingRefused as exc:
                return _refused(request, exc, session)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return redirect("readers:session", session_id=session.pk)
        return render(request, "readers/case.html", _case_context(assignment, form), status=400)
    try:
        assignment = services.assignment_serve(reader=request.user, assignment=assignment)
    except services.AlreadyAnswered:
        messages.info(request, _("That case is answered; here is your next one."))
        return redirect("readers:session", session_id=session.pk)
    except services.ReadingRefused as exc:
        return _refused(request, exc, session)
    if assignment.answered_at is not None:  # a revisit, where the study allows it
        form = PHASE_REVISE_FORMS.get(session.phase, ReviseForm)(
            initial=revise_initial(assignment.read)
        )
    else:
        form = form_class(initial=draft_initial(assignment.draft))
    rating_field_apply(form, collects_rating=collects_rating)
    return render(request, "readers/case.html", _case_context(assignment, form))


@login_required
@never_cache
@require_POST
def case_revise(request: HttpRequest, token: str) -> HttpResponse:
    """Change a submitted answer, with a reason (only where the study allows revisits)."""
    assignment = access_assignment(request.user, token)
    form = rating_field_apply(
        PHASE_REVISE_FORMS.get(assignment.session.phase, ReviseForm)(request.POST),
        collects_rating=assignment.session.study.collects_rating,
    )
    if form.is_valid():
        try:
            read = assignment.read
        except Assignment.read.RelatedObjectDoesNotExist as exc:  # type: ignore[attr-defined]
            raise Http404(_("No such read.")) from exc
        try:
            services.read_revise(
                reader=request.user,
                read=read,
                answer=form.answer(),
                reason=form.cleaned_data["reason"],
            )
        except services.ReadingRefused as exc:
            return _refused(request, exc, assignment.session)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Your answer was changed."))
            return redirect("readers:worklist")
    return render(request, "readers/case.html", _case_context(assignment, form), status=400)


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@login_required
@never_cache
@require_POST
def case_draft(request: HttpRequest, token: str) -> HttpResponse:
    """Autosave of the answer form (JSON body); 204 when kept."""
    assignment = access_assignment(request.user, token)
    try:
        services.read_draft_save(
            reader=request.user, assignment=assignment, draft=_json_body(request)
        )
    except services.ReadingRefused as exc:
        return JsonResponse({"detail": exc.message}, status=exc.status_code)
    except ValidationError as exc:
        return JsonResponse({"detail": " ".join(exc.messages)}, status=400)
    return HttpResponse(status=204)


@login_required
@never_cache
@require_POST
def case_activity(request: HttpRequest, token: str) -> HttpResponse:
    """A visibility or idle event of the case page (JSON ``{"kind": ...}``); 204."""
    assignment = access_assignment(request.user, token)
    try:
        services.activity_record(
            reader=request.user,
            assignment=assignment,
            kind=str(_json_body(request).get("kind", "")),
        )
    except services.ReadingRefused as exc:
        return JsonResponse({"detail": exc.message}, status=exc.status_code)
    except ValidationError as exc:
        return JsonResponse({"detail": " ".join(exc.messages)}, status=400)
    return HttpResponse(status=204)


def _file_chunks(handle: Any, start: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


@login_required
@require_http_methods(["GET", "HEAD"])
def case_media(request: HttpRequest, token: str, slot: str) -> HttpResponseBase:
    """Stream one image or video of the reader's own case, behind its opaque slot.

    No file name, no source-derived validators (ETag, Last-Modified), a neutral
    content type and ``no-store``: the bytes are the canonical rendition and nothing else.
    """
    assignment = access_assignment(request.user, token)
    if assignment.answered_at is not None and not assignment.session.study.allow_revisits:
        raise Http404(_("No such file."))
    rendition = selectors.slot_rendition(assignment=assignment, name=slot)
    if rendition is None:
        raise Http404(_("No such file."))
    size = rendition.file.size
    start, end, status = 0, size - 1, 200
    match = _RANGE.match(request.headers.get("Range", ""))
    if match and size:
        first, last = match.groups()
        if first:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        elif last:
            start = max(0, size - int(last))
        if start > end or start >= size:
            unsatisfiable = HttpResponse(status=416)
            unsatisfiable["Content-Range"] = f"bytes */{size}"
            return unsatisfiable

        status = 206
    handle = rendition.file.open("rb")
    response = StreamingHttpResponse(
        _file_chunks(handle, start, end - start + 1),
        status=status,
        content_type=_NEUTRAL_TYPES.get(rendition.kind, "application/octet-stream"),
    )
    response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Cache-Control"] = "private, no-store"
    return response


# ----------------------------------------------------------------- coordinator pages


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def coordinate(request: HttpRequest, study_id: Any) -> HttpResponse:
    """Enrol readers with their tier and create the sessions of the study's design."""
    study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
    enrol_form = EnrolForm(prefix="enrol", study=study)
    sessions_form = SessionCreateForm(prefix="sessions", study=study)
    status = 200
    if request.method == "POST":
        try:
            if "enrol-username" in request.POST:
                enrol_form = EnrolForm(request.POST, prefix="enrol", study=study)
                if enrol_form.is_valid():
                    data = enrol_form.cleaned_data
                    if data["user"] is not None:  # an unknown username gets the same answer
                        services.reader_enrol(
                            actor=request.user,
                            study=study,
                            user=data["user"],
                            tier=data["tier"],
                            years_experience=data["years_experience"],
                        )
                    messages.success(request, ENROLMENT_ANSWER % {"username": data["username"]})
                    return redirect("readers:coordinate", study_id=study.pk)
            else:
                sessions_form = SessionCreateForm(request.POST, prefix="sessions", study=study)
                if sessions_form.is_valid():
                    made = services.session_create_for_design(
                        actor=request.user,
                        study=study,
                        datasets=sessions_form.cleaned_data["datasets"],
                        seed=sessions_form.cleaned_data["seed"],
                    )
                    messages.success(
                        request, _("%(count)d sessions created.") % {"count": len(made)}
                    )
                    return redirect("readers:progress", study_id=study.pk)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        status = 400
    context = {
        "study": study,
        "demo_banner": study.is_demo,
        "readers": selectors.study_readers(study=study),
        "enrol_form": enrol_form,
        "sessions_form": sessions_form,
    }
    return render(request, "readers/coordinate.html", context, status=status)


@login_required
@never_cache
def progress(request: HttpRequest, study_id: Any) -> HttpResponse:
    """Reading progress of a study per reader (session) and per case."""
    study = access_study(request.user, study_id, roles=(Role.COORDINATOR,))
    context = {
        "study": study,
        "demo_banner": study.is_demo,
        "sessions": selectors.study_sessions(study=study),
        "cases": selectors.study_progress_by_case(study=study),
        "coordinate_url": reverse("readers:coordinate", kwargs={"study_id": study.pk}),
    }
    return render(request, "readers/progress.html", context)
