"""Which implementation runs a model directory: the ONE place that reads its profile.

Why a factory: a model directory is either the platform's own (``lite``/``full``, trained here:
``detector*/`` and ``diagnosis*/`` checkpoints, or either alone) or the authors' published
networks (``published.json``, made by ``import-published``). The two differ in their
networks and in their pre- and post-processing, but the pipeline around them — decoding,
view selection, writing views, the ensemble rule, reports — is the same. Everything else
(``run``, ``extract``, ``evaluate-*``, the platform's runner) asks this module for a
:class:`~inference.ncls.detection.predict.FrameDetector` and a :class:`CaseDiagnoser` and never
looks at the profile again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np

    from core.labels import View
    from inference.ncls.detection.predict import FrameDetector
    from inference.ncls.diagnosis.heatmaps import ViewHeatmap
    from inference.ncls.diagnosis.predict import CaseDiagnosis

PUBLISHED = "published"
#: ``--engine`` of ``run`` and ``extract`` (published model directories:
#: :mod:`inference.ncls.published.onnx`).
ENGINES = ("torch", "onnxruntime", "auto")
ENGINE_HELP = (
    "what runs a published model's networks: torch, onnxruntime (the graphs export-onnx "
    "wrote into MODEL_DIR/onnx; CPU, fp32) or auto (default: onnxruntime when those graphs "
    "are present and the run is fp32 on the CPU, else torch); our own models run in torch"
)
#: The marker file of a published model directory (``published.model_dir.RECORD_NAME``).
PUBLISHED_RECORD = "published.json"


class CaseDiagnoser(Protocol):
    """What the pipeline needs of stage 2, whichever networks run it."""

    @property
    def model_versions(self) -> tuple[str, ...]: ...

    @property
    def demo(self) -> bool: ...

    def diagnose(self, views: Mapping[View | str, np.ndarray]) -> CaseDiagnosis:
        """The case's diagnosis from its view frames (RGB; keys: view names)."""
        ...

    def heatmaps(
        self, views: Mapping[View | str, np.ndarray], out_dir: Path | None
    ) -> dict[str, ViewHeatmap]:
        """Explanations per view (may be empty when the networks have none)."""
        ...


@dataclass(frozen=True)
class Options:
    """How to run the models: device, detector precision and threshold, test-time passes.

    ``threshold`` None: the model's own (calibrated per class for ours, 0.6 for published).
    ``tta`` None: the model's default (published: the authors' 10 passes; ours: image and
    mirror); 1: no augmentation. ``engine`` (published models; :mod:`.published.onnx`):
    ``torch``, ``onnxruntime`` (the directory's exported graphs) or ``auto`` (onnxruntime when
    the graphs are present and the run is float32 on the CPU). Our own models always run in
    PyTorch, so for them ``onnxruntime`` is refused and ``auto`` is PyTorch.
    """

    device: str = "cpu"
    dtype: torch.dtype = torch.float32
    threshold: float | None = None
    tta: int | None = None
    engine: str = "auto"


def _own_engine(options: Options) -> None:
    """Refuse ``--engine onnxruntime`` for our own models (they have no onnxruntime engine)."""
    if options.engine == "onnxruntime":
        raise ValueError(
            "--engine onnxruntime runs published model directories only; "
            "this model runs in PyTorch (--engine torch or auto)"
        )


def profile_of(models: Path | str) -> str:
    """``published`` for a directory made by ``import-published``, else ``own``."""
    return PUBLISHED if (Path(models) / PUBLISHED_RECORD).is_file() else "own"


def resolve_models(models: Path) -> tuple[Path, Path | None]:
    """Find the diagnosis model directory (and the detector's, if any) under ``models``.

    ``models`` is either a diagnosis directory itself (holding ``fold_*.json``) or a root
    holding ``diagnosis*/`` and ``detector*/`` (or ``detection*/``) sub-directories
    (as ``demo_models`` does).
    """
    models = Path(models)
    if any(models.glob("fold_*.json")):
        return models, None
    diagnosis = sorted(p for p in models.glob("diagnosis*") if p.is_dir())
    detection = sorted(p for p in models.glob("detect*") if p.is_dir())
    if not diagnosis:
        raise ValueError(f"no diagnosis model under {models} (expected fold_*.json or diagnosis*/)")
    return diagnosis[0], (detection[0] if detection else None)


def _published_record(record: dict[str, Any], engine: str) -> dict[str, Any]:
    """The detector record that stage 1 reports (as ours: profile, weights' SHA-256, version)."""
    entry = record.get("detector") or {}
    return {
        "profile": PUBLISHED,
        "weights_sha256": entry.get("sha256"),
        "version": record.get("version"),
        "note": "the NCLS authors' published weights (import-published)",
        "demo": False,
        "engine": engine,
    }


def load_detector(
    models: Path | str, options: Options = Options()
) -> tuple[FrameDetector, dict[str, Any]]:
    """Stage 1's detector of ``models`` and its record.

    ``models`` is a published model directory, or one of ours: a detector checkpoint (folder or
    ``detector.json``) or a model root holding ``detector*/``.
    """
    path = Path(models)
    if profile_of(path) == PUBLISHED:
        from inference.ncls.published import onnx as published_onnx
        from inference.ncls.published.detector import SCORE_THRESHOLD
        from inference.ncls.published.frames import PublishedFrameDetector
        from inference.ncls.published.model_dir import load_published_model_dir, read_record

        engine = published_onnx.resolve_engine(options.engine, path, options.device, options.dtype)
        threshold = SCORE_THRESHOLD if options.threshold is None else options.threshold
        if engine == published_onnx.ONNXRUNTIME:
            record = read_record(path)
            if not record.get("detector"):
                load_published_model_dir(path, detector=True, diagnosis=False)  # says why
            graph = published_onnx.load_engine(path, diagnosis=False).detector
            assert graph is not None
            detector = PublishedFrameDetector(graph, threshold=threshold, engine=engine)
            return detector, _published_record(record, engine)
        published = load_published_model_dir(path, detector=True, diagnosis=False)
        assert published.detector is not None
        detector = PublishedFrameDetector(
            published.detector, device=options.device, dtype=options.dtype, threshold=threshold
        )
        return detector, _published_record(published.record, engine)
    _own_engine(options)
    from inference.ncls.detection.checkpoint import load_detector as load_checkpoint
    from inference.ncls.detection.predict import Detector, checkpoint_threshold

    if path.is_dir() and not (path / "detector.json").is_file():
        found = sorted(p for p in path.glob("detect*") if p.is_dir())
        path = found[0] if found else path
    model, record = load_checkpoint(path, options.device)
    # A checkpoint may carry thresholds calibrated on separate data.
    calibrated = checkpoint_threshold(record, options.threshold)
    return Detector(model, device=options.device, dtype=options.dtype, threshold=calibrated), record


def load_diagnoser(models: Path | str, options: Options = Options()) -> CaseDiagnoser:
    """Stage 2 of ``models`` (a published directory, a diagnosis directory or a model root)."""
    path = Path(models)
    if profile_of(path) == PUBLISHED:
        from inference.ncls.published import onnx as published_onnx
        from inference.ncls.published.ensemble import PublishedEnsemble
        from inference.ncls.published.model_dir import load_published_model_dir
        from inference.ncls.published.tta import DEFAULT_PASSES

        tta = DEFAULT_PASSES if options.tta is None else options.tta
        engine = published_onnx.resolve_engine(options.engine, path, options.device, options.dtype)
        if engine == published_onnx.ONNXRUNTIME:
            record_only = load_published_model_dir(path, detector=False, diagnosis=False)
            graphs = published_onnx.load_engine(path, detector=False)
            return PublishedEnsemble(record_only, tta=tta, networks=graphs.folds, engine=engine)
        published = load_published_model_dir(path, detector=False)
        return PublishedEnsemble(published, tta=tta, device=options.device, engine=engine)
    _own_engine(options)
    from inference.ncls.diagnosis.predict import DiagnosisEnsemble

    diagnosis, _ = resolve_models(path)
    ensemble = DiagnosisEnsemble.load(diagnosis, options.device)
    if options.tta is not None:
        if options.tta < 1:
            raise ValueError(f"--tta must be at least 1, got {options.tta}")
        ensemble.tta = options.tta > 1  # ours has one augmentation: the mirror image
    return ensemble


def has_detector(models: Path | str) -> bool:
    """Whether ``models`` holds a stage-1 detector (without loading anything)."""
    path = Path(models)
    if profile_of(path) == PUBLISHED:
        import json

        return bool(
            json.loads((path / PUBLISHED_RECORD).read_text(encoding="utf-8")).get("detector")
        )
    return (path / "detector.json").is_file() or resolve_models(path)[1] is not None
