"""ONNX export of the rotated RT-DETR detector (eval mode, float32, dynamic batch).

The graph is traced through :func:`inference.ncls.onnx_export.export_module` (the one
export path of the library), with opset :data:`~inference.ncls.onnx_export.OPSET`
(≥ 16, which the deformable attention's ``grid_sample`` needs).

Input ``images``: ``(batch, 3, S, S)`` float32 in [0, 1], ``S`` the checkpoint's
``input_size``; the grey letterboxed frame of
:func:`~inference.ncls.detection.preprocess.prepare_image` divided by 255 and repeated on
the three channels (:func:`~inference.ncls.detection.data.to_input`). Mean/std
normalisation is inside the graph.

Outputs, those of the final decoder layer (what :class:`~inference.ncls.detection.predict.Detector`
post-processes):

- ``logits``: ``(batch, Q, C)`` raw class logits, one per query and class (sigmoid gives
  the score; classes in :data:`~core.labels.ANATOMY_CLASSES` order);
- ``boxes``: ``(batch, Q, 5)`` as ``(cx, cy, w, h, a)``: centre and size divided by ``S``
  (letterboxed model coordinates), ``a = theta / 180°`` in half-turns in ``[-0.5, 0.5)``,
  ``theta`` clockwise on screen (:data:`~inference.ncls.detection.boxes.ANGLE_CONVENTION`).
  :func:`~inference.ncls.detection.model.postprocess` turns both into scored boxes in degrees.

Parity with PyTorch: :data:`PARITY_TOLERANCE` absolute on every logit and box coordinate
(the angle compared modulo one half-turn), tested.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.files import file_sha256
from core.labels import ANATOMY_CLASSES
from inference.ncls.onnx_export import OPSET, export_module

from .boxes import ANGLE_CONVENTION
from .checkpoint import FORMAT, load_detector
from .model import RotatedRTDETR
from .predict import SCORE_THRESHOLD, Detector, Threshold, checkpoint_threshold

#: Largest absolute difference allowed between onnxruntime and PyTorch, on logits and on
#: box coordinates (fp32 on both sides: the observed gap is ~1e-5; 1e-3 moves a score by at
#: most 2.5e-4, a box by 0.26 px of a 256² input and an angle by 0.18°).
PARITY_TOLERANCE = 1e-3
ONNX_NAME = "detector.onnx"
SIDECAR_NAME = "onnx.json"
ONNX_FORMAT = "ncls-rotated-rtdetr-onnx/1"
INPUT_NAMES = ("images",)
OUTPUT_NAMES = ("logits", "boxes")
BOX_LAYOUT = ("cx", "cy", "w", "h", "a")


class DetectorGraph(nn.Module):
    """The detector at inference as a graph with tensor outputs: ``(logits, boxes)``."""

    def __init__(self, model: RotatedRTDETR) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(images)
        return out["logits"], out["boxes"]


def export_detector(model: RotatedRTDETR, path: Path) -> Path:
    """Export ``model`` to ``path`` (a float32 CPU copy in eval mode; the argument is unchanged)."""
    graph = DetectorGraph(model)
    size = model.cfg.input_size
    # Batch 2 when tracing so that no size-1 axis can be folded into a constant.
    example = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    return export_module(
        graph, (example,), path, input_names=INPUT_NAMES, output_names=OUTPUT_NAMES
    )


def export_onnx(source: str | Path | RotatedRTDETR | Detector, out_dir: str | Path) -> Path:
    """Export a detector to ``out_dir/detector.onnx`` and ``onnx.json``; return the ONNX path.

    ``source`` is a checkpoint (folder, JSON or weights file: hash, classes and angle
    convention are checked on loading), a loaded :class:`Detector` or a bare model.
    """
    record: dict[str, Any] = {}
    threshold: Threshold = SCORE_THRESHOLD
    if isinstance(source, Detector):
        model, threshold = source.model, source.threshold
    elif isinstance(source, RotatedRTDETR):
        model = source
    elif isinstance(source, str | Path):
        model, record = load_detector(source)
        threshold = checkpoint_threshold(record)
    else:
        raise TypeError(
            f"cannot export {type(source).__name__}: "
            "expected a checkpoint path, Detector or RotatedRTDETR"
        )
    out_dir = Path(out_dir)
    onnx_path = export_detector(model, out_dir / ONNX_NAME)
    cfg = model.cfg
    size = cfg.input_size
    sidecar = {
        "format": ONNX_FORMAT,
        "onnx": onnx_path.name,
        "sha256": file_sha256(onnx_path),
        "opset": OPSET,
        "profile": cfg.profile,
        "input_size": size,
        "classes": list(ANATOMY_CLASSES),
        "angle_convention": ANGLE_CONVENTION,
        "inputs": {
            "images": {
                "shape": ["batch", 3, size, size],
                "dtype": "float32",
                "range": [0.0, 1.0],
                "meaning": "grey letterboxed frame / 255 on 3 channels; "
                "normalisation is in the graph",
            },
        },
        "outputs": {
            "logits": {
                "shape": ["batch", cfg.num_queries, cfg.num_classes],
                "dtype": "float32",
                "meaning": "raw class logits per query (sigmoid gives the score), classes in order",
            },
            "boxes": {
                "shape": ["batch", cfg.num_queries, 5],
                "dtype": "float32",
                "layout": list(BOX_LAYOUT),
                "meaning": "cx, cy, w, h divided by input_size; a = theta / 180 deg in [-0.5, 0.5)",
            },
        },
        "score_threshold": threshold,
        "architecture": cfg.to_dict(),
        "source": {
            "format": FORMAT,
            "weights_sha256": record.get("weights_sha256"),
            "note": record.get("note"),
        },
        "tolerance": PARITY_TOLERANCE,
    }
    (out_dir / SIDECAR_NAME).write_text(json.dumps(sidecar, indent=2) + "\n")
    return onnx_path
