"""The blinding audit of a source trial: what a reviewer's browser could observe, per material.

Gathers one observation per AI or junior material of the study — the bytes of its
renditions as they are served, the picked frames' positions within their sweeps, how
many views are missing, and the time to fetch its files from storage (the serving path
of :func:`readers.views.case_media`) — and runs the pure cross-validated classifier of
:mod:`analysis.blinding_audit` (a pure module: no Django, no app state). Only the
aggregate result leaves here; no per-case source is ever returned.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.utils.translation import gettext as _

from analysis.blinding_audit import BlindingAuditResult, MaterialObservation, blinding_audit
from readers.preparation import VIEW_SWEEP, VIEWS
from readers.source_trial import material_of_allocation
from trials.models import (
    Allocation,
    Asset,
    AssetKind,
    MaterialSet,
    MaterialSource,
    MaterialStatus,
    RenditionKind,
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
    base = MaterialSet.objects.filter(
        case__study=study, source__in=[MaterialSource.AI, MaterialSource.JUNIOR], status=MaterialStatus.COMPLETE
    )
    entries = Allocation.objects.filter(allocation_list__study=study).select_related("case")
    allocated = {m.pk for m in map(material_of_allocation, entries) if m is not None}
    if allocated:
        return (list(base.filter(pk__in=allocated).prefetch_related("renditions")),
                _("material allocated for blinded review"))
    return list(base.prefetch_related("renditions")), _("all prepared material")


def material_observation(material: MaterialSet, frame_counts: dict[tuple[str, str], int]) -> MaterialObservation:
    """What a reviewer's browser could observe of one material set."""
    images: dict[str, bytes] = {}
    positions: dict[str, float] = {}
    missing = 0
    started = time.perf_counter()
    for rendition in material.renditions.all():
        if rendition.kind != RenditionKind.IMAGE or rendition.view not in VIEWS:
            continue
        if rendition.not_obtainable or not rendition.file:
            missing += 1
            continue
        with rendition.file.open("rb") as handle:
            images[rendition.view] = handle.read()
        count = frame_counts.get((str(material.case_id), VIEW_SWEEP[rendition.view]), 0)
        if rendition.frame_index is not None and count:
            positions[rendition.view] = rendition.frame_index / count
    latency_ms = (time.perf_counter() - started) * 1000.0
    return MaterialObservation(source=material.source, images=images, frame_positions=positions,
                               missing_views=missing, latency_ms=latency_ms)


def blinding_audit_for_study(*, study: Study, seed: int = 0) -> BlindingAuditOutcome:
    """Run the blinding audit over the study's AI and junior material (aggregate only)."""
    materials, scope = _materials(study)
    frame_counts = {
        (str(case_id), orientation): count
        for case_id, orientation, count in Asset.objects.filter(
            case__study=study, kind=AssetKind.SWEEP_VIDEO
        ).order_by("-created").values_list("case_id", "orientation", "frame_count")
    }
    observations = [material_observation(m, frame_counts) for m in materials]
    try:
        result = blinding_audit(observations, VIEWS, seed=seed)
    except ValueError as exc:
        return BlindingAuditOutcome(None, scope, len(observations), str(exc))
    return BlindingAuditOutcome(result, scope, len(observations))
