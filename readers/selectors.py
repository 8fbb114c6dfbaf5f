"""Reads of the readers app: worklists, what a case page shows, progress."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from core.labels import View
from readers import statements
from readers.models import Assignment, Read, ReadingSession
from readers.phases import Opening, phase_rules
from readers.services import session_availability, session_next_assignment
from trials.models import (
    Membership,
    Rendition,
    RenditionKind,
    RenditionPurpose,
    RenditionStatus,
    Role,
    Study,
)
from trials.permissions import active_memberships

_VIEW_ORDER = {view.value: index for index, view in enumerate(View)}


@dataclass(frozen=True)
class SessionSummary:
    """A session on a worklist: progress, whether it is open and when it opens."""

    session: ReadingSession
    done: int
    total: int
    opening: Opening
    next_token: str | None

    @property
    def is_open(self) -> bool:
        return not self.opening.reason

    @property
    def opens_at(self) -> datetime | None:
        return self.opening.at


def reader_sessions(*, user: Any) -> QuerySet[ReadingSession]:
    """The reader's own sessions with done/total counts (of studies he still reads in)."""
    return (
        ReadingSession.objects.filter(
            reader=user,
            study__in=active_memberships(user).filter(role=Role.READER).values("study"),
        )
        .select_related("study")
        .annotate(
            total=Count("assignments"),
            done=Count("assignments", filter=Q(assignments__answered_at__isnull=False)),
        )
        .order_by("study__title", "created")
    )


def session_summary(*, session: ReadingSession) -> SessionSummary:
    """Progress and opening of one session (counts annotated or computed)."""
    total = getattr(session, "total", None)
    done = getattr(session, "done", None)
    if total is None or done is None:
        total = session.assignments.count()
        done = session.assignments.filter(answered_at__isnull=False).count()
    opening = session_availability(session=session)
    following = session_next_assignment(session=session) if not opening.reason else None
    return SessionSummary(session, done, total, opening, following.token if following else None)


def reader_worklist(*, user: Any) -> list[SessionSummary]:
    """The reader's worklist: each session with progress and opening."""
    return [session_summary(session=session) for session in reader_sessions(user=user)]


@dataclass(frozen=True)
class Slot:
    """One image or video of a case page, named opaquely for this assignment only."""

    name: str
    kind: str  # image | video
    label: str  # the standard view (AHV...) or the sweep's orientation
    group: str  # case | material | heatmap
    available: bool
    rendition: Rendition | None

    @property
    def fps(self) -> float | None:
        """A sweep's playback rate (its rendition's; the same for every sweep of a study)."""
        if self.kind != "video" or self.rendition is None:
            return None
        return self.rendition.fps

    @property
    def pixel_spacing_mm(self) -> tuple[float, float] | None:
        """Millimetres per pixel (x, y) of the case's own calibrated DICOM media; None for
        everything else, material views of every source included (nothing to compare)."""
        rendition = self.rendition
        if self.group != "case" or rendition is None:
            return None
        if rendition.pixel_spacing_x_mm and rendition.pixel_spacing_y_mm:
            return rendition.pixel_spacing_x_mm, rendition.pixel_spacing_y_mm
        return None

    def as_public(self) -> dict[str, Any]:
        """What a reader may see of the slot (never the rendition)."""
        spacing = self.pixel_spacing_mm
        return {
            "name": self.name,
            "kind": self.kind,
            "label": self.label,
            "group": self.group,
            "available": self.available,
            "fps": self.fps,
            "pixel_spacing_mm": list(spacing) if spacing else None,
        }


def slot_name(assignment: Assignment, rendition: Rendition) -> str:
    """An opaque slot name, unique to this assignment and this rendition."""
    message = f"slot:{assignment.token}:{rendition.pk}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:24]


def _slots(assignment: Assignment, renditions: list[Rendition], group: str) -> list[Slot]:
    renditions.sort(key=lambda r: (r.kind, r.orientation, _VIEW_ORDER.get(r.view, 99)))
    return [
        Slot(
            name=slot_name(assignment, rendition),
            kind=rendition.kind,
            label=rendition.view or rendition.orientation,
            group=group,
            available=bool(rendition.file) and not rendition.not_obtainable,
            rendition=rendition,
        )
        for rendition in renditions
    ]


def assignment_slots(*, assignment: Assignment) -> list[Slot]:
    """The case's own images and sweeps, and the phase's material where the phase shows it.

    Each group is selected by what its renditions are (``Rendition.purpose``), never by
    what they lack: the case group holds only renditions of the case's uploaded assets, so
    nothing another source adds to the case (an AI run, an import) can join it. The AI's
    explanation overlays (heatmaps) are shown only in a phase that shows the AI openly.
    """
    ready = Rendition.objects.filter(status=RenditionStatus.READY)
    rules = phase_rules(assignment.session.phase)
    slots = (
        _slots(
            assignment,
            # Only what was uploaded before the session was made: its media never change.
            # Ready, purpose CASE_MEDIA, of an asset of this case (readers.statements).
            statements.case_media(assignment.case_id, assignment.session.created),
            "case",
        )
        if rules.shows_case_media
        else []
    )
    if assignment.material_set_id is not None:
        material = ready.filter(
            material_set_id=assignment.material_set_id, kind=RenditionKind.IMAGE
        )
        slots += _slots(
            assignment, list(material.filter(purpose=RenditionPurpose.MATERIAL_VIEW)), "material"
        )
        if rules.shows_ai:
            slots += _slots(
                assignment, list(material.filter(purpose=RenditionPurpose.EXPLANATION)), "heatmap"
            )
    return slots


def slot_rendition(*, assignment: Assignment, name: str) -> Rendition | None:
    """The rendition behind an opaque slot name of this assignment, if any."""
    for slot in assignment_slots(assignment=assignment):
        if slot.available and hmac.compare_digest(slot.name, name):
            return slot.rendition
    return None


@dataclass(frozen=True)
class MaterialPanel:
    """What the phase shows of the material beside the case."""

    initial_severe: bool
    probability: float | None  # the AI's, only in a phase that shows the AI
    shows_ai: bool


def assignment_material(*, assignment: Assignment) -> MaterialPanel | None:
    """The material's diagnosis for this assignment's phase, or None without material."""
    material = assignment.material_set
    if material is None:
        return None
    shows_ai = phase_rules(assignment.session.phase).shows_ai
    return MaterialPanel(
        initial_severe=material.initial_severe,
        probability=material.initial_probability if shows_ai else None,
        shows_ai=shows_ai,
    )


def reader_reads(*, user: Any) -> QuerySet[Read]:
    """The reader's own reads, with the token of their assignment."""
    return Read.objects.filter(reader=user).select_related("assignment__session__study")


# ----------------------------------------------------------------- coordinator views


def study_readers(*, study: Study) -> QuerySet[Membership]:
    """The study's reader memberships (each with the reader's tier in this study)."""
    return (
        Membership.objects.filter(study=study, role=Role.READER)
        .select_related("user")
        .order_by("user__username")
    )


def study_sessions(*, study: Study) -> QuerySet[ReadingSession]:
    """Every session of the study with progress counts (for coordinators)."""
    return (
        ReadingSession.objects.filter(study=study)
        .select_related("reader")
        .annotate(
            total=Count("assignments"),
            done=Count("assignments", filter=Q(assignments__answered_at__isnull=False)),
        )
        .order_by("reader__username", "phase")
    )


def study_progress_by_case(*, study: Study) -> list[dict[str, Any]]:
    """Per case (by code, coordinators only): how many sessions answered it of how many."""
    rows = (
        Assignment.objects.filter(session__study=study)
        .values("case__code")
        .annotate(
            total=Count("id"),
            done=Count("id", filter=Q(answered_at__isnull=False)),
        )
        .order_by("case__code")
    )
    return [{"code": row["case__code"], "done": row["done"], "total": row["total"]} for row in rows]
