"""How a registered model is shown: its metrics, its notice, its API body."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inference.models import DEMO_NOTICE, ModelVersion

#: The figures a model's page shows of each record (the full metrics stay in the API).
_HEADLINE_METRICS = {
    "auc",
    "out_of_fold_auc",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "f1",
    "map",
    "n",
    "n_severe",
}
#: ``localisation`` (heatmaps on phantom lesions) has a table of its own on the models page.
_SKIPPED_METRICS = {
    "ap",
    "ground_truth",
    "f1_by_threshold",
    "rules",
    "config",
    "recorded_with",
    "localisation",
}


def metric_lines(metrics: dict[str, Any]) -> list[tuple[str, list[tuple[str, Any]]]]:
    """``[(record, [(dotted key, number), …]), …]``: the headline figures of a model's metrics.

    Summary records come before per-fold ones.
    """
    lines = []
    for source in sorted(metrics, key=lambda s: (Path(s).name.startswith("fold_"), s)):
        found: list[tuple[str, Any]] = []

        def walk(prefix: str, value: Any, found: list[tuple[str, Any]] = found) -> None:
            if isinstance(value, dict):
                for key, inner in value.items():
                    if key not in _SKIPPED_METRICS:
                        walk(f"{prefix}.{key}" if prefix else str(key), inner)
            elif (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and prefix.rsplit(".", 1)[-1] in _HEADLINE_METRICS
            ):
                label = prefix.removeprefix("metrics.")
                found.append((label, round(value, 4) if isinstance(value, float) else value))

        walk("", metrics[source])
        if found:
            lines.append((source, found))
    return lines


def notice(model_version: ModelVersion) -> str:
    """The demo notice of a demo model, else empty."""
    return DEMO_NOTICE if model_version.is_demo else ""


def model_body(model: ModelVersion) -> dict[str, Any]:
    """A model version as the API shows it (the registry's fields; the models list shows
    a part of them)."""
    return {
        "id": str(model.pk),
        "name": model.name,
        "version": model.version,
        "profile": model.profile,
        "provenance": model.provenance,
        "provenance_detail": model.provenance_detail,
        "directory": model.directory,
        "demo": model.is_demo,
        "notice": notice(model),
        "metrics": model.metrics,
        "files": model.files,
        "registered_at": model.created,
        "verified_at": model.verified_at,
        "verification_ok": model.verification_ok,
        "verification_problems": model.verification_problems,
    }
