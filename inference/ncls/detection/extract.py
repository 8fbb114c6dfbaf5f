"""``extract``: sweep videos → standard-view PNGs and ``views.json``.

Frames are streamed (bounded memory): a first pass decodes and detects in batches; the
chosen frames are decoded again by index for writing. The sector of each video is found
once, from the pixel-wise maximum of its first frames, and reused for every frame.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core import video as video_io
from core.labels import ANATOMY_CLASSES, View
from core.roi import SectorROI, crop_sector
from inference.ncls.detection.boxes import ANGLE_CONVENTION
from inference.ncls.detection.predict import FrameDetections, FrameDetector
from inference.ncls.detection.preprocess import sector_of
from inference.ncls.detection.views import SweepAnalysis, ViewResult, analyse_sweep

#: Frames whose pixel-wise maximum defines a video's sector.
ROI_FRAMES = 8


@dataclass
class VideoRun:
    """Detections, analysis, sector and stage timings of one video."""

    path: Path
    fps: float
    detections: list[FrameDetections]
    analysis: SweepAnalysis
    roi: SectorROI | None
    timings: dict[str, float]


def detect_video(
    path: Path,
    detector: FrameDetector,
    *,
    batch_size: int = 16,
    sagittal_starts_right: bool = True,
    orientation: str | None = None,
) -> VideoRun:
    """Decode, detect per frame (batched) and analyse one sweep (as ``orientation`` if declared)."""
    timings = {"decode_s": 0.0, "roi_s": 0.0, "detect_s": 0.0}
    detections: list[FrameDetections] = []
    roi: SectorROI | None = None
    pending: list[np.ndarray] = []
    first = 0
    with video_io.open_video(path) as video:
        fps = float(video.fps)
        it = iter(video)
        while True:
            t0 = time.perf_counter()
            frame = next(it, None)
            timings["decode_s"] += time.perf_counter() - t0
            if frame is not None:
                pending.append(frame)
            ready = len(pending) >= batch_size or (frame is None and pending)
            if roi is None and pending and (len(pending) >= ROI_FRAMES or frame is None):
                t0 = time.perf_counter()
                roi = sector_of(pending[:ROI_FRAMES])
                timings["roi_s"] += time.perf_counter() - t0
            if ready and (roi is not None or frame is None):
                t0 = time.perf_counter()
                detections.extend(detector.detect(pending, first, roi))
                timings["detect_s"] += time.perf_counter() - t0
                first += len(pending)
                pending = []
            if frame is None:
                break
    t0 = time.perf_counter()
    analysis = analyse_sweep(
        detections, sagittal_starts_right=sagittal_starts_right, orientation=orientation
    )
    timings["views_s"] = time.perf_counter() - t0
    return VideoRun(Path(path), fps, detections, analysis, roi, timings)


def _view_record(run: VideoRun, result: ViewResult) -> dict[str, Any]:
    assert result.frame_index is not None
    det = run.detections[result.frame_index]
    return {
        "status": "found",
        "video": str(run.path),
        "frame_index": result.frame_index,
        "score": result.score,
        "cluster_frames": list(result.cluster) if result.cluster else None,
        "boxes": [
            {**d, "class_name": ANATOMY_CLASSES[int(d["class_index"])]} for d in det.to_json()
        ],
    }


def write_detections(runs: Sequence[VideoRun], path: str | Path) -> Path:
    """Every frame's detections as JSON Lines, one object per frame (frames without any
    detection included), so a user can see why a view was or was not chosen."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for run in runs:
            for det in run.detections:
                boxes = [
                    {"class_name": ANATOMY_CLASSES[int(d["class_index"])], **d}
                    for d in det.to_json()
                ]
                record = {
                    "video": str(run.path),
                    "frame_index": det.frame_index,
                    "detections": boxes,
                }
                handle.write(json.dumps(record) + "\n")
    return path


def extract(
    videos: Sequence[str | Path],
    detector: FrameDetector,
    out_dir: str | Path,
    *,
    batch_size: int = 16,
    sagittal_starts_right: bool = True,
    checkpoint: dict[str, Any] | None = None,
    orientations: Sequence[str | None] | None = None,
    detections_out: str | Path | None = None,
) -> dict[str, Any]:
    """Run stage 1 on a case's videos; write ``<VIEW>.png`` and ``views.json``; return the JSON.

    ``orientations``: per video, the orientation it was acquired in where known (None: decided
    from its frames, as DESIGN.md says); any of ``DECLARED_ORIENTATIONS``.
    ``detections_out``: also write every frame's detections there (:func:`write_detections`).
    """
    declared = list(orientations) if orientations is not None else [None] * len(videos)
    if len(declared) != len(videos):
        raise ValueError(f"{len(videos)} video(s) but {len(declared)} orientation(s)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs: list[VideoRun] = []
    video_records: list[dict[str, Any]] = []
    for path, orientation in zip(videos, declared, strict=True):
        t_start = time.perf_counter()
        try:
            run = detect_video(
                Path(path),
                detector,
                batch_size=batch_size,
                sagittal_starts_right=sagittal_starts_right,
                orientation=orientation,
            )
        except video_io.VideoError as exc:
            video_records.append({"video": str(path), "error": exc.reason})
            continue
        runs.append(run)
        run.timings["total_s"] = time.perf_counter() - t_start
        video_records.append(_video_record(str(path), run, orientation))
    views: dict[str, Any] = {}
    chosen, reasons = _best_per_view(runs)
    t0 = time.perf_counter()
    for view in View:
        if view in chosen:
            run, res = chosen[view]
            views[view.value] = _write_view(out, view, run, res, detector)
        else:
            why = reasons[view] or ["no video of this view's orientation was given or usable"]
            views[view.value] = {"status": "missing", "reason": "; ".join(why)}
    write_s = time.perf_counter() - t0
    if detections_out is not None:
        write_detections(runs, detections_out)
    result = _stage1_record(detector, checkpoint, video_records, views, write_s)
    (out / "views.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def _video_record(video: str, run: VideoRun, declared: str | None) -> dict[str, Any]:
    """``views.json``'s entry for one analysed video (``video``: the path as given)."""
    a = run.analysis
    return {
        "video": video,
        "frames": a.frame_count,
        "fps": run.fps,
        "orientation": a.orientation,
        "declared_orientation": declared,
        "candidate_fraction": round(a.candidate_fraction, 4),
        "dropped_reason": a.dropped_reason,
        "sweep_direction": a.sweep_direction,
        "sector": None if run.roi is None else [run.roi.x0, run.roi.y0, run.roi.x1, run.roi.y1],
        "frame_views": [fv.group for fv in a.frames],
        "frame_scores": [round(fv.score, 4) for fv in a.frames],
        "timings": {k: round(v, 3) for k, v in run.timings.items()},
    }


def _best_per_view(
    runs: list[VideoRun],
) -> tuple[dict[View, tuple[VideoRun, ViewResult]], dict[View, list[str]]]:
    """Per view, the highest-scoring video's pick; and every video's reason where it has none."""
    chosen: dict[View, tuple[VideoRun, ViewResult]] = {}
    reasons: dict[View, list[str]] = {v: [] for v in View}
    for run in runs:
        for view, res in run.analysis.views.items():
            if res.found:
                best = chosen.get(view)
                if best is None or (res.score or 0) > (best[1].score or 0):
                    chosen[view] = (run, res)
            elif res.missing_reason:
                reasons[view].append(f"{run.path.name}: {res.missing_reason}")
    return chosen, reasons


def _write_view(
    out: Path, view: View, run: VideoRun, res: ViewResult, detector: FrameDetector
) -> dict[str, Any]:
    """Decode the chosen frame again, write ``<VIEW>.png`` (sector crop if the detector
    asks for it) and return the view's record."""
    record = _view_record(run, res)
    index = int(res.frame_index or 0)
    frame = video_io.read_frames(run.path, [index])[index]
    sector = run.roi if detector.crop_views_to_sector else None
    image = crop_sector(frame, sector)[0] if sector is not None else frame
    name = f"{view.value}.png"
    cv2.imwrite(str(out / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    record["image"] = name
    return record


def _stage1_record(
    detector: FrameDetector,
    checkpoint: dict[str, Any] | None,
    video_records: list[dict[str, Any]],
    views: dict[str, Any],
    write_s: float,
) -> dict[str, Any]:
    """The whole ``views.json``: units, threshold, the detector's provenance, videos, views."""
    return {
        "stage": "ncls-stage1",
        "angle_convention": ANGLE_CONVENTION,
        "box_units": (
            "frame pixels; PNGs are the sector crop, offset by the video's sector x0, y0"
            if detector.crop_views_to_sector
            else "frame pixels; PNGs are whole frames"
        ),
        "score_threshold": detector.threshold,
        "detector": None
        if checkpoint is None
        else {
            k: checkpoint.get(k)
            for k in ("profile", "weights_sha256", "data_hash", "note", "version")
        },
        "videos": video_records,
        "views": views,
        "timings": {"write_s": round(write_s, 3)},
    }
