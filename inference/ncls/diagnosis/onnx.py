"""ONNX export and an onnxruntime inference path.

Export goes through :func:`inference.ncls.onnx_export.export_module`, shared with the
detector. The diagnosis model is exported as a
:class:`~inference.ncls.diagnosis.model.ProbabilityNet` (inputs ``images`` B×6×3×S×S float,
normalised, and ``mask`` B×6 bool; outputs ``image_probabilities`` and
``severe_probability``). Parity with PyTorch: :data:`PARITY_TOLERANCE` absolute on every
probability (tested).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.files import file_sha256
from inference.ncls.onnx_export import export_module

from .checkpoint import fold_jsons, load_fold
from .data import normalise
from .model import NUM_SLOTS, DiagnosisNet, ProbabilityNet

#: Largest absolute difference allowed between onnxruntime and PyTorch probabilities.
PARITY_TOLERANCE = 1e-4


def export_diagnosis(net: DiagnosisNet, path: Path) -> Path:
    """Export one diagnosis network (probability outputs) to ``path``."""
    size = net.architecture.image_size
    images = torch.zeros(2, NUM_SLOTS, 3, size, size)
    mask = torch.ones(2, NUM_SLOTS, dtype=torch.bool)
    mask[1, 3:] = False
    return export_module(
        ProbabilityNet(net),
        (images, mask),
        path,
        input_names=("images", "mask"),
        output_names=("image_probabilities", "severe_probability"),
    )


def export_directory(models: Path, out_dir: Path) -> list[Path]:
    """Export every fold of a diagnosis model directory to ``fold_<k>.onnx``, plus an index JSON."""
    out_dir = Path(out_dir)
    written = []
    index = []
    for json_path in fold_jsons(models):
        fold = load_fold(json_path)
        onnx_path = export_diagnosis(fold.net, out_dir / f"{json_path.stem}.onnx")
        written.append(onnx_path)
        index.append(
            {
                "source": fold.version,
                "onnx": onnx_path.name,
                "sha256": file_sha256(onnx_path),
                "image_size": fold.net.architecture.image_size,
                "demo": bool(fold.metadata.get("demo")),
            }
        )
    (out_dir / "onnx.json").write_text(
        json.dumps({"models": index, "tolerance": PARITY_TOLERANCE}, indent=2) + "\n"
    )
    return written


class OnnxDiagnosis:
    """Diagnosis probabilities from exported fold models through onnxruntime (CPU)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        import onnxruntime

        if not paths:
            raise ValueError("no ONNX model given")
        self.sessions = [
            onnxruntime.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in paths
        ]

    def probabilities(
        self, images: torch.Tensor, masks: torch.Tensor, *, tta: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :func:`~inference.ncls.diagnosis.predict.infer_probabilities` (uint8 views in)."""
        batch = normalise(images).numpy()
        feeds: list[dict[str, Any]] = [{"images": batch, "mask": masks.numpy()}]
        if tta:
            feeds.append({"images": np.ascontiguousarray(batch[..., ::-1]), "mask": masks.numpy()})
        image_sum: np.ndarray | float = 0.0
        severe_sum: np.ndarray | float = 0.0
        for session in self.sessions:
            for feed in feeds:
                image_p, severe_p = session.run(None, feed)
                image_sum = image_sum + image_p.astype(np.float64)
                severe_sum = severe_sum + severe_p.astype(np.float64)
        runs = len(self.sessions) * len(feeds)
        return np.asarray(image_sum) / runs, np.asarray(severe_sum) / runs
