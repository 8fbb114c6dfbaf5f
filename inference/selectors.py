"""Reads of the inference app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet

from inference.models import AICaseResult, AIRun, ModelVersion, ResultStatus
from trials.models import Rendition, RenditionPurpose, Study


@dataclass(frozen=True)
class RunProgress:
    """How far an AI run has got."""

    total: int
    complete: int
    failed: int

    @property
    def done(self) -> int:
        return self.complete + self.failed

    @property
    def finished(self) -> bool:
        return self.done >= self.total


def run_progress(*, run: AIRun) -> RunProgress:
    """Progress of a run: its cases with a complete or failed result for its model."""
    case_ids = run.dataset.cases.filter(excluded=False).values("pk")
    results = AICaseResult.objects.filter(model_version=run.model_version, case__in=case_ids)
    return RunProgress(
        total=run.total,
        complete=results.filter(status=ResultStatus.COMPLETE).count(),
        failed=results.filter(status=ResultStatus.FAILED).count(),
    )


def run_results(*, run: AIRun) -> QuerySet[AICaseResult]:
    """A run's per-case results with their material and heatmaps."""
    return (
        AICaseResult.objects.filter(model_version=run.model_version, case__dataset=run.dataset)
        .select_related("case", "material_set")
        .prefetch_related(
            "heatmaps",
            Prefetch(
                "material_set__renditions",
                Rendition.objects.filter(purpose=RenditionPurpose.MATERIAL_VIEW),
            ),
        )
    )


def ai_predictions(
    *, study: Study, model_version: ModelVersion | None = None
) -> list[dict[str, Any]]:
    """The AI's standalone readings of a study's cases, one row per case: the AI as a reader.

    With no model version given, the most recent one that read the study is used.
    """
    results = AICaseResult.objects.filter(case__study=study, status=ResultStatus.COMPLETE)
    if model_version is None:
        latest = results.order_by("-created").values_list("model_version", flat=True).first()
        if latest is None:
            return []
        results = results.filter(model_version_id=latest)
    else:
        results = results.filter(model_version=model_version)
    return [
        {
            "case_id": r.case_id,
            "probability": r.severe_probability,
            "severe": r.severe,
            "model_version": str(r.model_version_id),
            "read_time_s": r.read_time_s,
        }
        for r in results.order_by("case__code")
    ]


def latest_model_versions() -> QuerySet[ModelVersion]:
    """Registered model versions, newest first."""
    return ModelVersion.objects.order_by("-created")
