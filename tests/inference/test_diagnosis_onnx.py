"""ONNX export of the diagnosis model: onnxruntime gives PyTorch's probabilities."""

from __future__ import annotations

from pathlib import Path

import torch

from inference.ncls.diagnosis.checkpoint import save_fold
from inference.ncls.diagnosis.model import DiagnosisNet, architecture_for
from inference.ncls.diagnosis.onnx import PARITY_TOLERANCE, OnnxDiagnosis, export_directory
from inference.ncls.diagnosis.predict import DiagnosisEnsemble, infer_probabilities

torch.set_num_threads(2)


def test_onnx_matches_pytorch(tmp_path: Path) -> None:
    for fold in range(2):
        torch.manual_seed(fold)
        save_fold(
            DiagnosisNet(architecture_for("lite", 64)), tmp_path / "models", fold, {"demo": True}
        )
    paths = export_directory(tmp_path / "models", tmp_path / "onnx")
    assert [p.name for p in paths] == ["fold_0.onnx", "fold_1.onnx"]
    generator = torch.Generator().manual_seed(3)
    images = torch.randint(0, 256, (5, 6, 3, 64, 64), dtype=torch.uint8, generator=generator)
    masks = torch.ones(5, 6, dtype=torch.bool)
    masks[1, 4:] = False
    masks[3, ::2] = False
    ensemble = DiagnosisEnsemble.load(tmp_path / "models")
    torch_image, torch_severe = infer_probabilities(ensemble.nets, images, masks)
    onnx_image, onnx_severe = OnnxDiagnosis(paths).probabilities(images, masks)
    assert abs(onnx_severe - torch_severe).max() < PARITY_TOLERANCE
    present = masks.numpy()
    assert abs(onnx_image[present] - torch_image[present]).max() < PARITY_TOLERANCE
