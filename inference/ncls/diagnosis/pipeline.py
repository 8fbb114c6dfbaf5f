"""The whole NCLS pipeline for one case: view extraction (stage 1), diagnosis, heatmaps.

The platform calls :class:`NclsPipeline` (load once per worker, then one call per case):

>>> pipeline = NclsPipeline.load("inference/ncls/demo_models")
>>> result = pipeline.run_videos([coronal_mp4, sagittal_mp4], out_dir=work_dir)
>>> result = pipeline.diagnose_views({"AHV": frame, ...}, out_dir=work_dir)  # views already chosen
>>> result.diagnosis.severe, result.view_frames, result.heatmaps, result.timings_s
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from inference.ncls.labels import View

from .checkpoint import DEMO_NOTICE
from .heatmaps import ViewHeatmap, view_heatmaps
from .predict import CaseDiagnosis, DiagnosisEnsemble, _as_view

RESULT_FILE = "result.json"


@dataclass(frozen=True)
class CaseResult:
    """Everything the pipeline made for one case."""

    diagnosis: CaseDiagnosis
    view_frames: dict[str, np.ndarray]
    view_paths: dict[str, Path]
    heatmaps: dict[str, ViewHeatmap]
    timings_s: dict[str, float]
    model_versions: dict[str, list[str]]
    extraction: dict[str, Any] = field(default_factory=dict)

    @property
    def demo(self) -> bool:
        """True when a demo model took part."""
        return self.diagnosis.demo or bool(self.extraction.get("demo"))

    def to_json(self) -> dict[str, Any]:
        """The content of ``result.json``."""
        data: dict[str, Any] = {
            "diagnosis": self.diagnosis.to_json(),
            "views": {view: str(path) for view, path in self.view_paths.items()},
            "heatmaps": {
                view: {"target_label": h.target_label, "overlay": str(h.overlay_path) if h.overlay_path else None}
                for view, h in self.heatmaps.items()
            },
            "timings_s": self.timings_s,
            "model_versions": self.model_versions,
            "extraction": self.extraction,
            "demo": self.demo,
        }
        if self.demo:
            data["notice"] = DEMO_NOTICE
        return data


def resolve_models(models: Path) -> tuple[Path, Path | None]:
    """Find the diagnosis model directory (and the detector's, if any) under ``models``.

    ``models`` is either a diagnosis directory itself (holding ``fold_*.json``) or a root
    holding ``diagnosis*/`` and ``detection*/`` sub-directories (as ``demo_models`` does).
    """
    models = Path(models)
    if any(models.glob("fold_*.json")):
        return models, None
    diagnosis = sorted(p for p in models.glob("diagnosis*") if p.is_dir())
    detection = sorted(p for p in models.glob("detection*") if p.is_dir())
    if not diagnosis:
        raise ValueError(f"no diagnosis model under {models} (expected fold_*.json or diagnosis*/)")
    return diagnosis[0], (detection[0] if detection else None)


def _frame_of(item: Any) -> np.ndarray:
    for name in ("frame", "image", "pixels"):
        if hasattr(item, name):
            return np.asarray(getattr(item, name))
    return np.asarray(item)


def extract_views(videos: Sequence[Path], detector: Path | None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Stage 1 through ``inference.ncls.detection`` (imported only when needed).

    Returns the chosen frame per view and a JSON-able summary of the extraction.
    """
    from inference.ncls import detection

    extractor = getattr(detection, "extract_views", None)
    if extractor is None:
        raise RuntimeError("stage 1 (inference.ncls.detection.extract_views) is not available")
    result = extractor([Path(v) for v in videos], detector)
    views = getattr(result, "views", result)
    frames = {_as_view(name).value: _frame_of(item) for name, item in dict(views).items()}
    summary_fn = getattr(result, "to_json", None)
    summary = summary_fn() if callable(summary_fn) else {}
    return frames, dict(summary)


class NclsPipeline:
    """Loaded NCLS models, reused for many cases."""

    def __init__(self, ensemble: DiagnosisEnsemble, detector: Path | None = None) -> None:
        self.ensemble = ensemble
        self.detector = detector

    @classmethod
    def load(cls, models: Path | str, device: str = "cpu") -> NclsPipeline:
        """Load the models under ``models`` (see :func:`resolve_models`), verifying checksums."""
        diagnosis, detector = resolve_models(Path(models))
        return cls(DiagnosisEnsemble.load(diagnosis, device), detector)

    def diagnose_views(
        self,
        views: Mapping[View | str, np.ndarray],
        *,
        out_dir: Path | None = None,
        heatmaps: bool = True,
        timings: dict[str, float] | None = None,
        extraction: dict[str, Any] | None = None,
        detection_versions: Sequence[str] = (),
    ) -> CaseResult:
        """Stage 2 on already-extracted view frames (RGB or grey arrays keyed by view name)."""
        frames = {_as_view(name).value: np.asarray(frame) for name, frame in views.items()}
        timings = dict(timings or {})
        started = time.perf_counter()
        diagnosis = self.ensemble.diagnose(frames)
        timings["diagnosis"] = time.perf_counter() - started
        maps: dict[str, ViewHeatmap] = {}
        paths: dict[str, Path] = {}
        if out_dir is not None:
            out_dir = Path(out_dir)
            out_dir.mkdir(parents=True, exist_ok=True)
            for view, frame in frames.items():
                path = out_dir / f"view_{view}.png"
                rgb = frame if frame.ndim == 3 else np.repeat(frame[..., None], 3, axis=2)
                cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2BGR))
                paths[view] = path
        if heatmaps:
            started = time.perf_counter()
            maps = view_heatmaps(self.ensemble, frames, out_dir)
            timings["heatmaps"] = time.perf_counter() - started
        timings["total"] = sum(v for k, v in timings.items() if k != "total")
        result = CaseResult(
            diagnosis=diagnosis,
            view_frames=frames,
            view_paths=paths,
            heatmaps=maps,
            timings_s={k: round(v, 4) for k, v in timings.items()},
            model_versions={"detection": list(detection_versions), "diagnosis": list(self.ensemble.model_versions)},
            extraction=extraction or {},
        )
        if out_dir is not None:
            (out_dir / RESULT_FILE).write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
        return result

    def run_videos(self, videos: Sequence[Path | str], *, out_dir: Path | None = None, heatmaps: bool = True) -> CaseResult:
        """The whole pipeline for one case's sweep videos (coronal and sagittal, any order)."""
        if not videos:
            raise ValueError("a case needs at least one sweep video")
        started = time.perf_counter()
        frames, summary = extract_views([Path(v) for v in videos], self.detector)
        if not frames:
            raise ValueError("stage 1 found no standard view in the videos")
        versions = summary.get("model_versions") or summary.get("model_version") or []
        return self.diagnose_views(
            frames,
            out_dir=out_dir,
            heatmaps=heatmaps,
            timings={"view_extraction": time.perf_counter() - started},
            extraction=summary,
            detection_versions=[versions] if isinstance(versions, str) else list(versions),
        )
