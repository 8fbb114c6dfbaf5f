"""The whole NCLS pipeline for one case: view extraction (stage 1), diagnosis, heatmaps.

It sits above both stages and above :mod:`inference.ncls.backends`, which decides the networks
that run a model directory. The platform calls :class:`NclsPipeline` (load once per worker, then
one call per case):

>>> pipeline = NclsPipeline.load("inference/ncls/demo_models")
>>> result = pipeline.run_videos([coronal_mp4, sagittal_mp4], out_dir=work_dir)
>>> result = pipeline.diagnose_views({"AHV": frame, ...}, out_dir=work_dir)  # views already chosen
>>> result.diagnosis.severe, result.view_frames, result.heatmaps, result.timings_s
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from core.labels import View
from inference.ncls import backends
from inference.ncls.diagnosis.checkpoint import DEMO_NOTICE
from inference.ncls.diagnosis.data import parse_view
from inference.ncls.diagnosis.heatmaps import ViewHeatmap
from inference.ncls.diagnosis.predict import CaseDiagnosis

if TYPE_CHECKING:
    from inference.ncls.detection.predict import FrameDetector

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
                view: {
                    "target_label": h.target_label,
                    "overlay": str(h.overlay_path) if h.overlay_path else None,
                }
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


class NoStandardViewError(ValueError):
    """Stage 1 found no standard view in a case's videos: nothing to diagnose.

    A normal outcome for sweeps the detector cannot read (not a fault): :attr:`reasons` gives,
    per view, why it is missing, and :attr:`extraction` stage 1's whole report.
    """

    def __init__(self, reasons: dict[str, str | None], extraction: dict[str, Any]) -> None:
        super().__init__(f"stage 1 found no standard view in the videos: {reasons}")
        self.reasons = reasons
        self.extraction = extraction


def extract_views(
    videos: Sequence[Path],
    detector: FrameDetector,
    record: dict[str, Any],
    out_dir: Path,
    orientations: Sequence[str | None] | None = None,
    detections_out: Path | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Stage 1: the chosen frame (RGB; a sector crop or the whole frame, as the detector's
    processing wants) per found view, and stage 1's ``views.json``."""
    from inference.ncls.detection.extract import extract

    summary = extract(
        [Path(v) for v in videos],
        detector,
        out_dir,
        checkpoint=record,
        orientations=orientations,
        detections_out=detections_out,
    )
    frames = {}
    for view, entry in summary["views"].items():
        if entry.get("status") == "found":
            image = cv2.imread(str(Path(out_dir) / entry["image"]), cv2.IMREAD_COLOR)
            if image is not None:
                frames[view] = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return frames, summary


class NclsPipeline:
    """Loaded NCLS models, reused for many cases."""

    def __init__(
        self,
        ensemble: backends.CaseDiagnoser,
        detector: FrameDetector | None = None,
        detector_record: dict[str, Any] | None = None,
    ) -> None:
        self.ensemble = ensemble
        self.detector = detector
        self.detector_record = detector_record or {}

    @classmethod
    def load(
        cls,
        models: Path | str,
        device: str = "cpu",
        *,
        detection: bool = True,
        tta: int | None = None,
        engine: str = "auto",
    ) -> NclsPipeline:
        """Load the models under ``models`` (ours, see :func:`.backends.resolve_models`, or a
        published model directory; :mod:`inference.ncls.backends` decides), verifying checksums.

        ``tta``: test-time passes (None: the model's default; 1: none). With
        ``detection=False`` (or no detector under ``models``) only :meth:`diagnose_views`
        can be used.
        """
        options = backends.Options(device=device, tta=tta, engine=engine)
        ensemble = backends.load_diagnoser(models, options)
        if detection and backends.has_detector(models):
            detector, record = backends.load_detector(models, options)
            return cls(ensemble, detector, record)
        return cls(ensemble)

    @property
    def detection_versions(self) -> list[str]:
        """Version of the loaded detector (profile and the first 12 hex of its weights' SHA-256)."""
        sha = str(self.detector_record.get("weights_sha256") or "")
        if not sha:
            return []
        return [f"ncls-detection-{self.detector_record.get('profile', '')}-{sha[:12]}"]

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
        frames = {parse_view(name).value: np.asarray(frame) for name, frame in views.items()}
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
                cv2.imwrite(
                    str(path), cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2BGR)
                )
                paths[view] = path
        if heatmaps:
            started = time.perf_counter()
            maps = self.ensemble.heatmaps(frames, out_dir)
            timings["heatmaps"] = time.perf_counter() - started
        timings["total"] = sum(v for k, v in timings.items() if k != "total")
        result = CaseResult(
            diagnosis=diagnosis,
            view_frames=frames,
            view_paths=paths,
            heatmaps=maps,
            timings_s={k: round(v, 4) for k, v in timings.items()},
            model_versions={
                "detection": list(detection_versions),
                "diagnosis": list(self.ensemble.model_versions),
            },
            extraction=extraction or {},
        )
        if out_dir is not None:
            (out_dir / RESULT_FILE).write_text(
                json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8"
            )
        return result

    def run_videos(
        self,
        videos: Sequence[Path | str],
        *,
        out_dir: Path | None = None,
        heatmaps: bool = True,
        orientations: Sequence[str | None] | None = None,
        detections_out: Path | None = None,
    ) -> CaseResult:
        """The whole pipeline for one case's sweep videos (coronal and sagittal, any order).

        ``orientations``: per video, its declared orientation where known (see
        :func:`inference.ncls.detection.views.analyse_sweep`); None: decided from the frames.
        Raises :class:`NoStandardViewError` when stage 1 finds no view.
        """
        if not videos:
            raise ValueError("a case needs at least one sweep video")
        if self.detector is None:
            raise ValueError("no detector loaded: the model directory has no detector*/ checkpoint")
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as scratch:
            views_dir = Path(out_dir) / "stage1" if out_dir is not None else Path(scratch)
            frames, summary = extract_views(
                [Path(v) for v in videos],
                self.detector,
                self.detector_record,
                views_dir,
                orientations=orientations,
                detections_out=detections_out,
            )
        if not frames:
            reasons = {v: e.get("reason") for v, e in summary.get("views", {}).items()}
            raise NoStandardViewError(reasons, summary)
        summary = {**summary, "demo": bool(self.detector_record.get("demo"))}
        return self.diagnose_views(
            frames,
            out_dir=out_dir,
            heatmaps=heatmaps,
            timings={"view_extraction": time.perf_counter() - started},
            extraction=summary,
            detection_versions=self.detection_versions,
        )
