"""ONNX export of the detector: onnxruntime gives PyTorch's logits and boxes, any batch size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from core.files import file_sha256
from core.labels import ANATOMY_CLASSES, View
from inference.ncls.__main__ import main
from inference.ncls.detection.checkpoint import load_detector
from inference.ncls.detection.data import to_input
from inference.ncls.detection.model import RotatedRTDETR, postprocess, profile_config
from inference.ncls.detection.onnx import PARITY_TOLERANCE, export_onnx
from inference.ncls.detection.predict import SCORE_THRESHOLD, checkpoint_threshold
from inference.ncls.detection.preprocess import prepare_image

torch.set_num_threads(1)

MODELS = Path(__file__).resolve().parents[2] / "inference" / "ncls" / "demo_models"
DEMO = MODELS / "detector-lite"


def _session(path: Path) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _gaps(model: RotatedRTDETR, session: Any, images: torch.Tensor) -> tuple[float, float]:
    """Largest |ONNX − PyTorch| on logits and on boxes (angle modulo one half-turn)."""
    with torch.no_grad():
        reference = model(images)
    logits, boxes = session.run(None, {"images": images.numpy()})
    assert logits.shape == tuple(reference["logits"].shape)
    assert boxes.shape == tuple(reference["boxes"].shape)
    box_gap = boxes - reference["boxes"].numpy()
    # A tie at ±0.5 may wrap to opposite ends on the two runtimes: the same box.
    box_gap[..., 4] -= np.round(box_gap[..., 4])
    return float(np.abs(logits - reference["logits"].numpy()).max()), float(np.abs(box_gap).max())


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo models exported once through the command line."""
    out = tmp_path_factory.mktemp("onnx")
    assert main(["export-onnx", "--models", str(MODELS), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def demo_model() -> RotatedRTDETR:
    model, _ = load_detector(DEMO)
    return model


def test_command_exports_detector_with_sidecar(exported: Path) -> None:
    onnx_path = exported / "detection" / "detector.onnx"
    assert onnx_path.is_file() and (exported / "diagnosis" / "fold_0.onnx").is_file()
    sidecar = json.loads((exported / "detection" / "onnx.json").read_text())
    record = json.loads((DEMO / "detector.json").read_text())
    assert sidecar["sha256"] == file_sha256(onnx_path)
    assert sidecar["onnx"] == "detector.onnx" and sidecar["opset"] >= 16
    assert sidecar["input_size"] == record["architecture"]["input_size"] == 256
    assert sidecar["classes"] == list(ANATOMY_CLASSES) == record["classes"]
    assert sidecar["angle_convention"] == record["angle_convention"]
    assert sidecar["outputs"]["boxes"]["layout"] == ["cx", "cy", "w", "h", "a"]
    assert sidecar["outputs"]["logits"]["shape"] == ["batch", 30, len(ANATOMY_CLASSES)]
    assert sidecar["source"]["weights_sha256"] == record["weights_sha256"]
    assert sidecar["score_threshold"] == checkpoint_threshold(record)  # per-class where calibrated


def test_onnx_matches_pytorch_on_random_batches(exported: Path, demo_model: RotatedRTDETR) -> None:
    session = _session(exported / "detection" / "detector.onnx")
    generator = torch.Generator().manual_seed(7)
    for batch in (2, 2, 1, 3):  # 1 and 3 were never traced: the batch axis is dynamic
        images = torch.rand(batch, 3, 256, 256, generator=generator)
        logit_gap, box_gap = _gaps(demo_model, session, images)
        assert logit_gap < PARITY_TOLERANCE and box_gap < PARITY_TOLERANCE, (
            batch,
            logit_gap,
            box_gap,
        )


def test_onnx_matches_pytorch_on_a_phantom_frame(exported: Path, demo_model: RotatedRTDETR) -> None:
    import inference.phantom as phantom

    sweep = phantom.render_case(
        4242, n_frames=5, case_type="normal", orientations=("coronal",)
    ).sweeps["coronal"]
    grey, _ = prepare_image(sweep.frames[sweep.ideal_frames[View.BV]], 256)
    images = to_input(grey.astype(np.float32) / 255.0)[None]
    session = _session(exported / "detection" / "detector.onnx")
    logit_gap, box_gap = _gaps(demo_model, session, images)
    assert logit_gap < PARITY_TOLERANCE and box_gap < PARITY_TOLERANCE
    # and the same detections pass the threshold (the demo's scores there are ≥ 4e-3 from
    # it and from one another, so parity within the tolerance cannot reorder them)
    logits, boxes = session.run(None, {"images": images.numpy()})
    with torch.no_grad():
        reference = demo_model(images)
    ours = postprocess(torch.from_numpy(logits), torch.from_numpy(boxes))[0]
    theirs = postprocess(reference["logits"], reference["boxes"])[0]
    kept = int((theirs[0] >= SCORE_THRESHOLD).sum())
    assert kept >= 1 and int((ours[0] >= SCORE_THRESHOLD).sum()) == kept
    assert torch.equal(ours[1][:kept], theirs[1][:kept])
    assert torch.allclose(ours[0][:kept], theirs[0][:kept], atol=PARITY_TOLERANCE)


def test_export_of_a_model_in_memory(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = RotatedRTDETR(profile_config("lite", input_size=64, num_decoder_layers=1)).train()
    onnx_path = export_onnx(model, tmp_path)
    assert model.training  # the caller's model is left as it was
    sidecar = json.loads((tmp_path / "onnx.json").read_text())
    assert sidecar["input_size"] == 64 and sidecar["source"]["weights_sha256"] is None
    images = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    logit_gap, box_gap = _gaps(model.eval(), _session(onnx_path), images)
    assert logit_gap < PARITY_TOLERANCE and box_gap < PARITY_TOLERANCE
    with pytest.raises(TypeError, match="cannot export"):
        export_onnx(42, tmp_path)  # type: ignore[arg-type]
