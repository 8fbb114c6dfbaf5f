"""Writes of the inference app: model registration, one case's AI material, the pipeline.

The NCLS pipeline is swapped in one way only: ``settings.FONTANELLE_PIPELINE_RUNNER``,
resolved at each call by :func:`pipeline_runner` (tests override the setting). Queuing a
run over a dataset is :func:`inference.runs.ai_run_start` (it imports the tasks, which
import this module).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from core.files import file_sha256
from inference.models import (
    AICaseResult,
    ChecksumMismatch,
    Heatmap,
    ModelVersion,
    ResultStatus,
)
from inference.registry import model_require_intact
from trials.audit import audit_record
from trials.models import AuditAction, Case, MaterialSet, MaterialSource, MaterialStatus
from trials.selectors import case_sweeps
from trials.services.renditions import (
    local_path,
    rendition_make_explanation,
    rendition_make_for_view,
)


def _resolve(directory: str) -> Path:
    path = Path(directory)
    return path if path.is_absolute() else Path(settings.BASE_DIR) / path


def _collect_metrics(directory: Path) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    for meta in sorted(directory.rglob("*.json")):
        try:
            content = json.loads(meta.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValidationError(
                _("%(file)s in the model directory cannot be read: %(error)s")
                % {"file": meta.name, "error": exc}
            ) from exc
        if isinstance(content, dict) and "metrics" in content:
            metrics[str(meta.relative_to(directory))] = content["metrics"]
    return metrics


@transaction.atomic
def model_version_register(
    *, actor: Any, name: str, version: str, profile: str, directory: Path, is_demo: bool
) -> ModelVersion:
    """Register a model bundle: record every checkpoint file's sha256 and the metrics."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValidationError(_("No model directory at %s") % directory)
    files = [
        {"path": str(p.relative_to(directory)), "sha256": file_sha256(p)}
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.suffix in (".safetensors", ".json", ".onnx")
    ]
    if not any(f["path"].endswith(".safetensors") for f in files):
        raise ValidationError(_("The model directory holds no .safetensors checkpoint."))
    try:
        stored_dir = str(directory.resolve().relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        stored_dir = str(directory.resolve())
    model, created = ModelVersion.objects.get_or_create(
        name=name,
        version=version,
        defaults={
            "profile": profile,
            "directory": stored_dir,
            "files": files,
            "metrics": _collect_metrics(directory),
            "is_demo": is_demo,
        },
    )
    if created:
        audit_record(
            actor=actor,
            action=AuditAction.MODEL_REGISTERED,
            target=model,
            after={"name": name, "version": version, "profile": profile, "demo": is_demo},
        )
    return model


def model_version_verify(*, model_version: ModelVersion) -> Path:
    """Check every registered file against its sha256; return the model directory."""
    directory = _resolve(model_version.directory)
    for entry in model_version.files:
        path = directory / entry["path"]
        if not path.is_file():
            raise ChecksumMismatch(_("Model file missing: %s") % entry["path"])
        if file_sha256(path) != entry["sha256"]:
            raise ChecksumMismatch(_("Model file changed since registration: %s") % entry["path"])
    return directory


@dataclass
class CaseAIOutput:
    """What the NCLS pipeline produced for one case (pure data, before it is stored)."""

    views: dict[str, tuple[np.ndarray, int] | None]  # view -> (frame RGB, frame index) or None
    missing_reasons: dict[str, str]
    severe_probability: float
    severe: bool
    rule: str
    image_labels: dict[str, Any]
    heatmaps: dict[str, np.ndarray] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


#: What runs the NCLS pipeline on one case: (model directory, videos by orientation) → output.
PipelineRunner = Callable[[Path, dict[str, Path]], CaseAIOutput]


def is_demo_module(module: str) -> bool:
    """Whether a dotted module path is demo code (``trials.demo``, ``inference.demo`` ...)."""
    return any(
        part == "demo" or part.startswith("demo_") or part.endswith("_demo")
        for part in module.split(".")
    )


def pipeline_runner() -> PipelineRunner:
    """The runner ``settings.FONTANELLE_PIPELINE_RUNNER`` names, resolved now.

    The setting holds a dotted path (tests may set the callable itself). A runner from demo
    code is refused: the demo's stand-in reads the phantom's truth, so it must never make
    AI material outside the demo builder, which stores the stand-in's output itself.
    """
    configured = settings.FONTANELLE_PIPELINE_RUNNER
    if isinstance(configured, str):
        try:
            runner = import_string(configured)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"FONTANELLE_PIPELINE_RUNNER {configured!r} cannot be imported: {exc}"
            ) from exc
    else:
        runner = configured
    if not callable(runner):
        raise ImproperlyConfigured(f"FONTANELLE_PIPELINE_RUNNER {configured!r} is not callable")
    module = str(getattr(runner, "__module__", "") or "")
    if is_demo_module(module):
        raise ImproperlyConfigured(
            f"FONTANELLE_PIPELINE_RUNNER {configured!r} is demo code ({module}): "
            "the NCLS pipeline never runs a demo stand-in"
        )
    return runner


@contextmanager
def case_videos(case: Case) -> Iterator[dict[str, Path]]:
    """The case's sweep of each orientation as a scratch copy, by orientation.

    The same sweep of each orientation as a junior picks from (one selector for both).
    """
    videos = case_sweeps(case=case)
    if not videos:
        raise ValueError(_("the case has no sweep video"))
    with tempfile.TemporaryDirectory() as scratch:
        paths: dict[str, Path] = {}
        for orientation, asset in videos.items():
            with local_path(asset.file) as source:
                target = Path(scratch) / f"{orientation}.video"
                target.write_bytes(source.read_bytes())
                paths[orientation] = target
        yield paths


def ai_case_build(
    *, case_id: Any, model_version_id: Any, run_id: Any | None = None
) -> AICaseResult:
    """Run NCLS on one case and store its AI MaterialSet, all or nothing.

    Idempotent per (case, model version): a complete result is returned as it is; a
    failed one is retried. The heavy work happens before the transaction, so a worker
    killed midway leaves nothing behind and the redelivered task starts clean.
    """
    case = Case.objects.select_related("study").get(pk=case_id)
    model_version = ModelVersion.objects.get(pk=model_version_id)
    done = AICaseResult.objects.filter(case=case, model_version=model_version).first()
    if done is not None and done.status == ResultStatus.COMPLETE:
        return done
    # A misconfigured runner is the deployment's error, not the case's: raised, not recorded.
    runner = pipeline_runner()
    try:
        # Refused (and the failure recorded below) if a file no longer matches its SHA-256.
        model_dir = model_require_intact(model_version=model_version)
        with case_videos(case) as paths:
            started = time.perf_counter()
            output = runner(model_dir, paths)
            wall_s = time.perf_counter() - started
    except (ValueError, ValidationError, OSError) as exc:
        error = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        return _record_failure(case=case, model_version=model_version, run_id=run_id, error=error)
    return ai_output_store(
        case=case,
        model_version=model_version,
        run_id=run_id,
        output=output,
        read_time_s=ai_read_time_s(output.timings, wall_s),
    )


def ai_output_store(
    *,
    case: Case,
    model_version: ModelVersion,
    output: CaseAIOutput,
    run_id: Any | None = None,
    read_time_s: float | None = None,
) -> AICaseResult:
    """Store one case's pipeline output as its AI MaterialSet and result, all or nothing.

    If a concurrent store of the same (case, model version) won the race, its result stands.
    """
    try:
        return _store_output(
            case=case,
            model_version=model_version,
            run_id=run_id,
            output=output,
            read_time_s=read_time_s,
        )
    except IntegrityError:
        return AICaseResult.objects.get(case=case, model_version=model_version)


def _record_failure(
    *, case: Case, model_version: ModelVersion, run_id: Any, error: str
) -> AICaseResult:
    result, _created = AICaseResult.objects.update_or_create(
        case=case,
        model_version=model_version,
        defaults={"status": ResultStatus.FAILED, "error": error[:2000], "run_id": run_id},
    )
    return result


def ai_read_time_s(timings: dict[str, Any], wall_s: float) -> float:
    """The AI's seconds for a case: the pipeline's measured ``total`` (view extraction,
    diagnosis, heatmaps), else the sum of the stages it timed, else the worker's wall clock
    around the pipeline (which, for a result the runner had cached, is not the reading)."""
    total = timings.get("total")
    if isinstance(total, int | float) and math.isfinite(total) and total >= 0:
        return float(total)
    stages = [float(v) for v in timings.values() if isinstance(v, int | float) and math.isfinite(v)]
    if stages:
        return float(sum(stages))
    return float(wall_s)


@transaction.atomic
def _store_output(
    *,
    case: Case,
    model_version: ModelVersion,
    run_id: Any,
    output: CaseAIOutput,
    read_time_s: float | None = None,
) -> AICaseResult:
    material = MaterialSet.objects.create(
        case=case,
        source=MaterialSource.AI,
        author_model_id=model_version.pk,
        author_model_label=str(model_version),
        initial_severe=output.severe,
        initial_probability=output.severe_probability,
    )
    for view, picked in output.views.items():
        frame, index = picked if picked is not None else (None, None)
        rendition_make_for_view(material_set=material, view=view, frame=frame, frame_index=index)
    material.status = MaterialStatus.COMPLETE
    material.save(update_fields=["status", "modified"])
    AICaseResult.objects.filter(case=case, model_version=model_version).delete()
    result = AICaseResult.objects.create(
        case=case,
        model_version=model_version,
        run_id=run_id,
        status=ResultStatus.COMPLETE,
        material_set=material,
        severe_probability=output.severe_probability,
        severe=output.severe,
        rule=output.rule,
        image_labels=output.image_labels,
        views={
            view: (
                {"frame_index": picked[1]}
                if picked is not None
                else {"missing": output.missing_reasons.get(view, "")}
            )
            for view, picked in output.views.items()
        },
        timings=output.timings,
        read_time_s=read_time_s,
    )
    for view, overlay in output.heatmaps.items():
        # Kept with the AI's material as an explanation, never as media of the case.
        rendition = rendition_make_explanation(material_set=material, view=view, overlay=overlay)
        Heatmap.objects.create(result=result, view=view, rendition=rendition)
    audit_record(
        actor=None,
        action=AuditAction.MATERIAL_CREATED,
        target=material,
        after={"source": "ai", "model_version": str(model_version.pk), "severe": output.severe},
    )
    return result
