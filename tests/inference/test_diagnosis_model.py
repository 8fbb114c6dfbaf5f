"""Diagnosis network: shapes, masking of absent views, a tiny overfit, checkpoints, heatmaps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from inference.ncls.diagnosis.checkpoint import ChecksumError, load_fold, save_fold
from inference.ncls.diagnosis.data import load_cases, normalise, read_manifest
from inference.ncls.diagnosis.heatmaps import view_heatmaps
from inference.ncls.diagnosis.model import NUM_IMAGE_LABELS, DiagnosisNet, architecture_for
from inference.ncls.diagnosis.predict import DiagnosisEnsemble
from inference.ncls.diagnosis.toydata import draw_view, write_toy_manifest
from inference.ncls.diagnosis.train import TrainingConfig, train_fold

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def small_net() -> DiagnosisNet:
    torch.manual_seed(0)
    return DiagnosisNet(architecture_for("lite", 64)).eval()


def test_output_shapes(small_net: DiagnosisNet) -> None:
    images = torch.randn(3, 6, 3, 64, 64)
    mask = torch.ones(3, 6, dtype=torch.bool)
    image_logits, case_logits = small_net(images, mask)
    assert image_logits.shape == (3, 6, NUM_IMAGE_LABELS)
    assert case_logits.shape == (3, 2)


def test_padded_views_do_not_change_the_case_output(small_net: DiagnosisNet) -> None:
    torch.manual_seed(1)
    images = torch.randn(2, 6, 3, 64, 64)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 0, 1, 0, 1, 0]], dtype=torch.bool)
    noisy = images.clone()
    noisy[~mask] = torch.randn(int((~mask).sum()), 3, 64, 64) * 5
    with torch.no_grad():
        image_a, case_a = small_net(images, mask)
        image_b, case_b = small_net(noisy, mask)
        full_image, _ = small_net(images, torch.ones_like(mask))
    torch.testing.assert_close(case_a, case_b, atol=1e-5, rtol=0)
    torch.testing.assert_close(image_a[mask], image_b[mask], atol=1e-5, rtol=0)
    # Present views keep their own image-head output whatever else is in the case.
    torch.testing.assert_close(image_a[mask], full_image[mask], atol=1e-5, rtol=0)


def test_full_profile_is_convnext_tiny() -> None:
    net = DiagnosisNet(architecture_for("full"))
    assert net.architecture.image_size == 256
    assert net.architecture.feature_dim == 768
    assert 27_000_000 < sum(p.numel() for p in net.encoder.parameters()) < 29_000_000


@pytest.fixture(scope="module")
def toy_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_manifest(tmp_path_factory.mktemp("toy"), 12, seed=0)


def test_tiny_overfit(toy_manifest: Path) -> None:
    data = load_cases(read_manifest(toy_manifest)[:8], 32)
    config = TrainingConfig(
        epochs=30,
        batch_size=8,
        image_size=32,
        learning_rate=3e-3,
        warmup_epochs=2,
        regmixup_weight=0.0,
        progress=False,
    )
    net, loss = train_fold(data, np.arange(len(data.codes)), config, fold=0)
    with torch.no_grad():
        image_logits, case_logits = net(normalise(data.images), data.masks)
    predicted = case_logits.argmax(-1)
    assert torch.equal(predicted, data.severe), (loss, predicted, data.severe)
    image_hits = ((image_logits > 0).float() == data.image_targets)[data.masks].float().mean()
    assert image_hits > 0.8


def test_checkpoint_round_trip_and_tamper_refusal(small_net: DiagnosisNet, tmp_path: Path) -> None:
    json_path = save_fold(small_net, tmp_path, 0, {"demo": True, "validation": {}})
    loaded = load_fold(json_path)
    assert loaded.metadata["notice"] == "demo model — not for clinical use"
    images, mask = torch.randn(1, 6, 3, 64, 64), torch.ones(1, 6, dtype=torch.bool)
    with torch.no_grad():
        torch.testing.assert_close(loaded.net(images, mask)[1], small_net(images, mask)[1])
    weights = tmp_path / "fold_0.safetensors"
    content = bytearray(weights.read_bytes())
    content[-1] ^= 0x01
    weights.write_bytes(bytes(content))
    with pytest.raises(ChecksumError, match="SHA-256"):
        load_fold(json_path)


def test_heatmap_shape_and_overlay(small_net: DiagnosisNet, tmp_path: Path) -> None:
    save_fold(small_net, tmp_path / "models", 0, {"demo": False})
    ensemble = DiagnosisEnsemble.load(tmp_path / "models")
    frame = draw_view(np.random.default_rng(0), severe=True)
    maps = view_heatmaps(ensemble, {"AHV": frame, "MSV": frame[..., 0]}, tmp_path / "out")
    assert set(maps) == {"AHV", "MSV"}
    for heatmap in maps.values():
        assert heatmap.heatmap.shape == (64, 64)
        assert heatmap.heatmap.min() >= 0.0 and heatmap.heatmap.max() <= 1.0
        assert heatmap.overlay_path is not None and heatmap.overlay_path.is_file()
