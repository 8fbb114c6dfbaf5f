"""Evaluation of a model directory on a case manifest: from the manifest's view images (stage 2)
or from each case's sweep videos (the whole pipeline), scored by
:func:`inference.ncls.diagnosis.metrics.case_metrics`.

It sits above :mod:`inference.ncls.backends` (which picks the networks of a model directory,
ours or published) and the pipeline, so it lives beside them rather than in ``diagnosis/``.
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.labels import SIDE_VIEWS
from core.labels import VIDEO_COLUMNS as MANIFEST_VIDEO_COLUMNS
from inference.ncls import backends
from inference.ncls.diagnosis.data import CaseRecord, load_rgb, read_manifest
from inference.ncls.diagnosis.metrics import case_metrics
from inference.ncls.diagnosis.predict import CaseDiagnosis
from inference.ncls.pipeline import NclsPipeline

#: Manifest video columns and the orientation each declares (None: decided from the frames,
#: as before one-sided sagittal sweeps existed; a one-sided sweep must say its side).
VIDEO_COLUMNS: dict[str, str | None] = {
    column: orientation if orientation in SIDE_VIEWS else None
    for column, orientation in MANIFEST_VIDEO_COLUMNS.items()
}


def _case_views(record: CaseRecord) -> dict[str, np.ndarray]:
    """A case's readable view images (RGB); an unreadable image is a missing view."""
    views = {}
    for view, path in record.views.items():
        try:
            views[view.value] = load_rgb(path)
        except ValueError:
            continue
    return views


def evaluate_manifest(
    models: Path, manifest: Path, *, device: str = "cpu", tta: int | None = None
) -> dict[str, Any]:
    """Diagnose every case of a manifest with the models in ``models`` (ours or published) and
    score it. Cases without a readable view image are left out.

    Cases are split by ``dataset_kind``: blind-sweep cases are reported apart from the rest.
    """
    ensemble = backends.load_diagnoser(models, backends.Options(device=device, tta=tta))
    records = read_manifest(manifest)
    report: dict[str, Any] = {"models": list(ensemble.model_versions), "manifest": str(manifest)}
    groups = {
        "standard": [r for r in records if r.dataset_kind != "blind_sweep"],
        "blind_sweep": [r for r in records if r.dataset_kind == "blind_sweep"],
    }
    for name, group in groups.items():
        cases = [(r, views) for r in group if (views := _case_views(r))]
        if not cases:
            continue
        diagnoses = [ensemble.diagnose(views) for _, views in cases]
        report[name] = case_metrics([int(r.severe) for r, _ in cases], diagnoses)
        report[name]["rules"] = {
            rule: sum(d.rule == rule for d in diagnoses)
            for rule in sorted({str(d.rule) for d in diagnoses})
        }
    return report


def evaluate_videos(
    models: Path,
    manifest: Path,
    *,
    device: str = "cpu",
    max_cases: int | None = None,
    progress: bool = True,
    tta: int | None = None,
) -> dict[str, Any]:
    """The whole pipeline on each case's sweep videos (stage 1 picks the views, stage 2
    diagnoses them), scored like :func:`evaluate_manifest`.

    A case whose videos give no standard view cannot be diagnosed: it is listed under
    ``failed`` with the reason and left out of the metrics, never guessed.
    """
    pipeline = NclsPipeline.load(models, device, tta=tta)
    if pipeline.detector is None:
        raise ValueError(f"{models}: no detector*/ checkpoint, so the videos cannot be read")
    manifest = Path(manifest)
    with manifest.open(newline="", encoding="utf-8") as handle:
        rows = {row["code"]: row for row in csv.DictReader(handle)}
    records = [r for r in read_manifest(manifest) if not r.excluded][: max_cases or None]
    report: dict[str, Any] = {
        "models": list(pipeline.ensemble.model_versions) + pipeline.detection_versions,
        "manifest": str(manifest),
        "failed": {},
    }
    results: dict[str, tuple[CaseDiagnosis, int, float]] = {}
    for k, record in enumerate(records, 1):
        row = rows[record.code]
        columns = [c for c in VIDEO_COLUMNS if row.get(c)]
        videos = [manifest.parent / row[c] for c in columns]
        started = time.perf_counter()
        try:
            declared = [VIDEO_COLUMNS[c] for c in columns]
            result = pipeline.run_videos(videos, heatmaps=False, orientations=declared)
        except ValueError as exc:
            report["failed"][record.code] = str(exc)
            continue
        seconds = time.perf_counter() - started
        results[record.code] = (result.diagnosis, len(result.view_frames), seconds)
        if progress:
            print(
                f"[{k}/{len(records)}] {record.code}: {len(result.view_frames)} views, "
                f"p(severe)={result.diagnosis.severe_probability:.3f}, {seconds:.1f} s",
                file=sys.stderr,
            )
    groups = {
        "standard": [r for r in records if r.dataset_kind != "blind_sweep" and r.code in results],
        "blind_sweep": [
            r for r in records if r.dataset_kind == "blind_sweep" and r.code in results
        ],
    }
    for name, group in groups.items():
        if not group:
            continue
        diagnoses = [results[r.code][0] for r in group]
        report[name] = case_metrics([int(r.severe) for r in group], diagnoses)
        report[name]["views_per_case"] = float(np.mean([results[r.code][1] for r in group]))
        report[name]["seconds_per_case"] = float(np.mean([results[r.code][2] for r in group]))
    return report
