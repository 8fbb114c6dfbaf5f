"""Stage 1 with the published detector: the authors' per-frame processing behind the
platform's :class:`~inference.ncls.detection.predict.FrameDetector` interface.

Why an adapter and not a branch in ``extract``: view selection (candidate views, scores,
DBSCAN, best frame) only needs per-frame detections in frame pixels and the platform's class
indices. Everything that differs between the two detectors — the network's input (here the
whole frame, no sector crop, BGR → RGB, PIL bilinear 640×640, no normalisation), the class map
and the score rule — lives here, so ``extract`` and the views logic stay as they are.

The authors' processing, followed exactly:

- classes 0–9 of their head are the ten anatomy classes in the order of
  :data:`core.labels.ANATOMY_CLASSES`; 10–14 were never trained and are dropped;
- the top 300 (query, class) pairs by sigmoid score are kept (their post-processor), then
  those scoring strictly above 0.6 (their ``scores > thrh``);
- boxes come back in the original frame's pixels, whatever its size.

Angle: the network's fifth box output is a sigmoid ``a`` in (0, 1); the authors' matcher reads
it as ``(a - 0.5) · 2π`` radians and their visualiser turns boxes counter-clockwise on screen
(OpenCV's ``getRotationMatrix2D``). Our convention turns clockwise, in degrees, long edge first
(``detection.boxes.ANGLE_CONVENTION``), so the angle is ``-(a - 0.5) · 360`` made canonical. The
angle plays no part in view selection; it is reported for the user.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from core.labels import ANATOMY_CLASSES
from core.roi import SectorROI
from inference.ncls.detection.boxes import canonical_np
from inference.ncls.detection.predict import FrameDetections

from .detector import SCORE_THRESHOLD, detector_input, postprocess

#: Head indices below this are the anatomy classes (same order as ANATOMY_CLASSES).
USED_CLASSES = len(ANATOMY_CLASSES)


def published_boxes(xyxya: np.ndarray) -> np.ndarray:
    """The authors' post-processed boxes ``(x1, y1, x2, y2, a)`` in frame pixels → our
    ``(cx, cy, w, h, theta°)``, canonical (see the module docstring for the angle)."""
    b = np.asarray(xyxya, dtype=np.float64).reshape(-1, 5)
    boxes = np.stack(
        [
            (b[:, 0] + b[:, 2]) / 2,
            (b[:, 1] + b[:, 3]) / 2,
            b[:, 2] - b[:, 0],
            b[:, 3] - b[:, 1],
            -(b[:, 4] - 0.5) * 360.0,
        ],
        axis=1,
    )
    return canonical_np(boxes).reshape(-1, 5)


def keep_detections(labels: torch.Tensor, scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """Mask of the post-processed pairs that count: an anatomy class, score above ``threshold``."""
    return (labels < USED_CLASSES) & (scores > threshold)


class PublishedFrameDetector:
    """The published RT-DETRv2 as a stage-1 frame detector (see the module docstring)."""

    #: The authors crop nothing before detection and save whole frames as the views; their
    #: diagnosis input does its own border crop, so view images stay whole frames.
    crop_views_to_sector = False

    def __init__(
        self,
        model: nn.Module | Callable[[torch.Tensor], dict[str, torch.Tensor]],
        *,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        threshold: float = SCORE_THRESHOLD,
        engine: str = "torch",
    ) -> None:
        # ``model``: the PyTorch detector, or anything called the same way (images → raw
        # outputs), such as the onnxruntime graph of ``published.onnx`` (``engine``).
        self.model = model.to(device).eval() if isinstance(model, nn.Module) else model
        self.engine = engine
        self.device = torch.device(device)
        self.dtype = dtype
        self.threshold: float = float(threshold)

    def inputs(self, frames: Sequence[np.ndarray]) -> torch.Tensor:
        """RGB frames (as decoded) → the authors' ``[B, 3, 640, 640]`` input."""
        bgr = []
        for frame in frames:
            image = np.asarray(frame)
            if image.ndim == 2:
                image = np.repeat(image[..., None], 3, axis=2)
            bgr.append(np.ascontiguousarray(image[..., 2::-1]))
        return torch.stack([detector_input(f) for f in bgr])

    @torch.inference_mode()
    def detect(
        self, frames: list[np.ndarray], start_index: int, roi: SectorROI | None
    ) -> list[FrameDetections]:
        """Detections of a batch of frames; ``roi`` is ignored (the authors use the whole frame)."""
        if not frames:
            return []
        batch = self.inputs(frames).to(self.device)
        autocast = (
            torch.autocast(device_type=self.device.type, dtype=self.dtype)
            if self.dtype != torch.float32
            else contextlib.nullcontext()
        )
        with autocast:
            out = self.model(batch)
        raw = {k: out[k].float().cpu() for k in ("pred_logits", "pred_boxes")}
        sizes = [(int(f.shape[1]), int(f.shape[0])) for f in frames]
        results = []
        for k, post in enumerate(postprocess(raw, sizes)):
            keep = keep_detections(post["labels"], post["scores"], self.threshold)
            results.append(
                FrameDetections(
                    start_index + k,
                    published_boxes(post["boxes"][keep].numpy()),
                    post["labels"][keep].numpy().astype(np.int64),
                    post["scores"][keep].numpy().astype(np.float64),
                )
            )
        return results
