"""The blinding audit of a source trial: what a reviewer's browser could observe, per material.

Gathers one observation per AI or junior material of the study — the bytes of its
renditions as they are served, the picked frames' positions within their sweeps, how
many views are missing, and the time to fetch its files from storage (the serving path
of :func:`readers.views.case_media`) — and runs the pure cross-validated classifier of
:mod:`analysis.blinding_audit` (a pure module: no Django, no app state). Only the
aggregate result leaves here; no per-case source is ever returned.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Prefetch
from django.test import Client
from django.urls import reverse
from django.utils.translation import gettext as _

from analysis.blinding_audit import BlindingAuditResult, MaterialObservation, blinding_audit
from readers.preparation import VIEWS, view_sweeps
from trials.models import (
    Asset,
    AssetKind,
    MaterialSet,
    MaterialSource,
    MaterialStatus,
    Rendition,
    RenditionKind,
    RenditionPurpose,
    Role,
    Study,
)


@dataclass(frozen=True)
class BlindingAuditOutcome:
    """The audit's result, or why it could not run; ``scope`` says which materials."""

    result: BlindingAuditResult | None
    scope: str
    materials: int
    problem: str = ""


def _materials(study: Study) -> tuple[list[MaterialSet], str]:
    """Every complete AI and junior material of the cases that have both sources.

    Not only the allocated ones: the allocation shows each senior one source per case, so
    its AI and junior arms hold different cases, and case differences would pass for
    source cues. With both sources of the same cases (grouped by case in the
    cross-validation) only the sources differ.
    """
    base = MaterialSet.objects.filter(
        case__study=study, source__in=[MaterialSource.AI, MaterialSource.JUNIOR], status=MaterialStatus.COMPLETE
    )
    sources_per_case: dict[object, set[str]] = {}
    for case_id, source in base.values_list("case_id", "source"):
        sources_per_case.setdefault(case_id, set()).add(source)
    paired = [case_id for case_id, sources in sources_per_case.items() if len(sources) == 2]
    views = Prefetch("renditions", Rendition.objects.filter(purpose=RenditionPurpose.MATERIAL_VIEW))
    materials = list(base.filter(case_id__in=paired).prefetch_related(views))
    return materials, _("AI and junior material of the %d cases that have both") % len(paired)


def serving_latencies(
    materials: list[MaterialSet], *, seed: int, coordinator: Any, repeats: int = 3
) -> dict[object, float]:
    """Median time (ms) to fetch each material's images over the HTTP serving path.

    Requests go through the whole Django stack (as a coordinator of the study), in a
    shuffled order, three times: a fixed order would time the storage's cache state,
    which follows the order materials were created in, not their source.
    """
    client = Client(HTTP_HOST=_serving_host())
    client.force_login(coordinator)
    rng = random.Random(seed)
    timings: dict[object, list[float]] = {m.pk: [] for m in materials}
    for _repeat in range(repeats):
        order = list(materials)
        rng.shuffle(order)
        for material in order:
            started = time.perf_counter()
            for rendition in material.renditions.all():
                if rendition.kind == RenditionKind.IMAGE and rendition.file and not rendition.not_obtainable:
                    response = client.get(reverse("trials:rendition-file", args=[rendition.pk]), secure=True)
                    b"".join(response.streaming_content)  # type: ignore[attr-defined]
            timings[material.pk].append((time.perf_counter() - started) * 1000.0)
    return {pk: statistics.median(values) for pk, values in timings.items()}


def _serving_host() -> str:
    hosts = [h for h in settings.ALLOWED_HOSTS if h not in ("*", "") and not h.startswith(".")]
    return hosts[0] if hosts else "localhost"


def material_observation(
    material: MaterialSet, frame_counts: dict[tuple[str, str], int], latency_ms: float = 0.0
) -> MaterialObservation:
    """What a reviewer's browser could observe of one material set."""
    images: dict[str, bytes] = {}
    positions: dict[str, float] = {}
    missing = 0
    for rendition in material.renditions.all():
        if rendition.kind != RenditionKind.IMAGE or rendition.view not in VIEWS:
            continue
        if rendition.not_obtainable or not rendition.file:
            missing += 1
            continue
        with rendition.file.open("rb") as handle:
            images[rendition.view] = handle.read()
        # the view's sweep (MSV of left and right sagittal sweeps: the longer of the two)
        case_id = str(material.case_id)
        options = view_sweeps(o for c, o in frame_counts if c == case_id)[rendition.view]
        count = max(frame_counts.get((case_id, o), 0) for o in options)
        if rendition.frame_index is not None and count:
            positions[rendition.view] = rendition.frame_index / count
    return MaterialObservation(source=material.source, images=images, frame_positions=positions,
                               missing_views=missing, latency_ms=latency_ms, group=str(material.case_id))


def _a_coordinator(study: Study) -> Any:
    membership = study.memberships.filter(role=Role.COORDINATOR).select_related("user").first()
    if membership is None:
        raise ValueError(_("The study has no coordinator to measure serving latency as."))
    return membership.user


def blinding_audit_for_study(*, study: Study, seed: int = 0, coordinator: Any = None) -> BlindingAuditOutcome:
    """Run the blinding audit over the study's AI and junior material (aggregate only)."""
    materials, scope = _materials(study)
    frame_counts = {
        (str(case_id), orientation): count
        for case_id, orientation, count in Asset.objects.filter(
            case__study=study, kind=AssetKind.SWEEP_VIDEO
        ).order_by("-created").values_list("case_id", "orientation", "frame_count")
    }
    latencies = serving_latencies(materials, seed=seed, coordinator=coordinator or _a_coordinator(study))
    observations = [material_observation(m, frame_counts, latencies[m.pk]) for m in materials]
    try:
        result = blinding_audit(observations, VIEWS, seed=seed)
    except ValueError as exc:
        return BlindingAuditOutcome(None, scope, len(observations), str(exc))
    return BlindingAuditOutcome(result, scope, len(observations))
