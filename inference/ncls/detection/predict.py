"""Batched per-frame detection with a trained detector, boxes in frame pixels."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from core.labels import ANATOMY_CLASSES
from core.roi import SectorROI
from inference.ncls.detection.data import to_input
from inference.ncls.detection.model import RotatedRTDETR, postprocess
from inference.ncls.detection.preprocess import prepare_image

#: DESIGN.md's score threshold for a detection to count.
SCORE_THRESHOLD = 0.6

#: A score threshold: one for every class, or one per class name.
Threshold = float | Mapping[str, float]


def class_thresholds(threshold: Threshold) -> np.ndarray:
    """Per-class thresholds in class order; classes a mapping leaves out get 0.6."""
    if isinstance(threshold, Mapping):
        unknown = set(threshold) - set(ANATOMY_CLASSES)
        if unknown:
            raise ValueError(f"score thresholds for unknown classes: {sorted(unknown)}")
        return np.asarray([float(threshold.get(c, SCORE_THRESHOLD)) for c in ANATOMY_CLASSES])
    return np.full(len(ANATOMY_CLASSES), float(threshold))


def checkpoint_threshold(record: Mapping[str, Any], override: float | None = None) -> Threshold:
    """The threshold a checkpoint asks for: ``override`` if given, else the per-class
    thresholds calibrated on separate data, else its single calibrated one, else 0.6."""
    if override is not None:
        return float(override)
    per_class = record.get("score_thresholds")
    if per_class:
        return {str(k): float(v) for k, v in per_class.items()}
    return float(record.get("score_threshold", SCORE_THRESHOLD))


@dataclass(frozen=True)
class FrameDetections:
    """A frame's detections: boxes ``(N, 5)`` in frame pixels (our convention), classes, scores."""

    frame_index: int
    boxes: np.ndarray
    classes: np.ndarray
    scores: np.ndarray

    def to_json(self) -> list[dict[str, float | int]]:
        """JSON-ready list of detections."""
        return [
            {
                "class_index": int(c),
                "score": round(float(s), 4),
                "cx": round(float(b[0]), 2),
                "cy": round(float(b[1]), 2),
                "w": round(float(b[2]), 2),
                "h": round(float(b[3]), 2),
                "angle_deg": round(float(b[4]), 2),
            }
            for b, c, s in zip(self.boxes, self.classes, self.scores, strict=True)
        ]


class FrameDetector(Protocol):
    """What stage 1 needs of a detector, whichever network it runs (the platform's own, or
    the authors' published one): detections per frame in frame pixels and ANATOMY_CLASSES
    indices, the score threshold it applied (for reports), and whether the view images it
    leads to are sector crops (ours) or whole frames (the published processing, whose
    diagnosis stage does its own border crop)."""

    @property
    def threshold(self) -> Threshold:
        """The score threshold applied (one, or one per class name)."""
        ...

    @property
    def crop_views_to_sector(self) -> bool:
        """True: view images are the sector crop; False: whole frames."""
        ...

    def detect(
        self, frames: list[np.ndarray], start_index: int, roi: SectorROI | None
    ) -> list[FrameDetections]:
        """Detections of consecutive RGB frames numbered from ``start_index``."""
        ...


class Detector:
    """A loaded model plus its device and precision; call :meth:`detect` on frame batches."""

    #: The letterboxed sector is what this detector sees, so its view images are sector crops.
    crop_views_to_sector = True

    def __init__(
        self,
        model: RotatedRTDETR,
        *,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        threshold: Threshold = SCORE_THRESHOLD,
    ) -> None:
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.dtype = dtype
        # as given (for reports); the per-class array and tensor are what detection uses
        self.threshold: Threshold = (
            dict(threshold) if isinstance(threshold, Mapping) else float(threshold)
        )
        self.thresholds = class_thresholds(threshold)
        self._thresholds = torch.as_tensor(self.thresholds, dtype=torch.float32, device=self.device)
        self.size = model.cfg.input_size

    @torch.inference_mode()
    def detect(
        self, frames: list[np.ndarray], start_index: int, roi: SectorROI | None
    ) -> list[FrameDetections]:
        """Detect in a batch of frames sharing one sector ROI (None: whole frame)."""
        prepared = [prepare_image(f, self.size, roi, find=False) for f in frames]
        batch = torch.stack([to_input(p.astype(np.float32) / 255.0) for p, _ in prepared]).to(
            self.device
        )
        autocast = (
            torch.autocast(device_type=self.device.type, dtype=self.dtype)
            if self.dtype != torch.float32
            else contextlib.nullcontext()
        )
        with autocast:
            out = self.model(batch)
        results = []
        for k, (scores, labels, boxes) in enumerate(
            postprocess(out["logits"].float(), out["boxes"].float())
        ):
            keep = scores >= self._thresholds[labels]
            lb = prepared[k][1]
            frame_boxes = lb.to_frame(boxes[keep].cpu().numpy().astype(np.float64))
            results.append(
                FrameDetections(
                    start_index + k,
                    frame_boxes,
                    labels[keep].cpu().numpy(),
                    scores[keep].cpu().numpy(),
                )
            )
        return results
