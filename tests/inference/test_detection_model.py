"""Detector shapes for both profiles, matching on a hand-made case, a tiny overfit."""

from __future__ import annotations

import pytest
import torch

from inference.ncls.detection.loss import DetectionLoss, MatchWeights, hungarian_match
from inference.ncls.detection.model import (
    RotatedRTDETR,
    count_parameters,
    postprocess,
    profile_config,
)

torch.set_num_threads(1)


def _targets(batch: int) -> list[dict[str, torch.Tensor]]:
    boxes = torch.tensor(
        [[0.5, 0.4, 0.3, 0.1, 0.1], [0.3, 0.6, 0.15, 0.08, -0.3], [0.7, 0.6, 0.15, 0.08, 0.45]]
    )
    return [{"labels": torch.tensor([0, 1, 4]), "boxes": boxes.clone()} for _ in range(batch)]


@pytest.mark.parametrize(("profile", "size", "batch"), [("lite", 256, 2), ("full", 256, 1)])
def test_forward_backward_shapes(profile: str, size: int, batch: int) -> None:
    torch.manual_seed(0)
    cfg = profile_config(profile, input_size=size)
    model = RotatedRTDETR(cfg)
    assert cfg.backbone == ("resnet50" if profile == "full" else "resnet10")
    assert profile_config(profile).input_size == (640 if profile == "full" else 256)
    images = torch.rand(batch, 3, size, size)
    model.train()
    out = model(images, _targets(batch))
    q, c, layers = cfg.num_queries, cfg.num_classes, cfg.num_decoder_layers
    assert out["logits"].shape == (batch, q, c)
    assert out["boxes"].shape == (batch, q, 5)
    assert out["aux_logits"].shape == (layers - 1, batch, q, c)
    assert out["dn_boxes"].shape[:2] == (layers, batch)
    loss, parts = DetectionLoss(c)(out, _targets(batch))
    loss.backward()
    assert torch.isfinite(loss) and "dn0_vfl" in parts and "enc_diou" in parts
    model.eval()
    with torch.no_grad():
        pred = model(images)
    assert "dn_meta" not in pred
    boxes = pred["boxes"]
    assert ((boxes[..., :4] >= 0) & (boxes[..., :4] <= 1)).all()
    assert ((boxes[..., 4] >= -0.5) & (boxes[..., 4] < 0.5)).all()
    scores, labels, deg = postprocess(pred["logits"], boxes, top=10)[0]
    assert scores.shape == labels.shape == (10,) and deg.shape == (10, 5)
    assert ((deg[:, 4] >= -90) & (deg[:, 4] < 90)).all()
    if profile == "lite":
        assert count_parameters(model) < 8_000_000


def test_matcher_hand_made_case() -> None:
    # Query 2 is exactly target 0 with the right class; query 0 is target 1 but rotated by
    # 179° — the same box up to 1° — so periodic matching must still pick it.
    targets = [
        {
            "labels": torch.tensor([3, 7]),
            "boxes": torch.tensor([[0.5, 0.5, 0.2, 0.1, 0.2], [0.2, 0.3, 0.1, 0.05, -0.45]]),
        }
    ]
    boxes = torch.tensor(
        [
            [
                [0.2, 0.3, 0.1, 0.05, 0.44],
                [0.8, 0.8, 0.1, 0.1, 0.0],
                [0.5, 0.5, 0.2, 0.1, 0.2],
                [0.5, 0.52, 0.2, 0.1, 0.0],
            ]
        ]
    )
    logits = torch.full((1, 4, 10), -4.0)
    logits[0, 2, 3] = 4.0
    logits[0, 0, 7] = 4.0
    logits[0, 3, 3] = 3.0
    rows, cols = hungarian_match(logits, boxes, targets, MatchWeights())[0]
    assert dict(zip(cols.tolist(), rows.tolist(), strict=True)) == {0: 2, 1: 0}


def test_loss_decreases_on_tiny_overfit() -> None:
    torch.manual_seed(0)
    cfg = profile_config(
        "lite", input_size=128, num_queries=10, num_decoder_layers=2, num_denoising=0
    )
    model = RotatedRTDETR(cfg)
    images = torch.rand(2, 3, 128, 128)
    targets = _targets(2)
    crit = DetectionLoss(cfg.num_classes)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    losses = []
    for _ in range(15):
        loss, _ = crit(model(images, targets), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert min(losses[-3:]) < 0.8 * losses[0]


def test_varifocal_target_is_iou_times_plane_quality() -> None:
    # Each positive's BCE weight is its target score, so the gradient on its logit is
    # target × (p − target): zero exactly when the predicted score equals IoU × quality.
    # With a perfect box (IoU 1) the loss is stationary at p = quality, not at p = 1.
    box = torch.tensor([[0.5, 0.5, 0.3, 0.2, 0.1]])
    crit = DetectionLoss(3)
    indices = [(torch.tensor([0]), torch.tensor([0]))]

    def grad_at(p: float, quality: float | None) -> float:
        logits = torch.full((1, 2, 3), -20.0)
        logits[0, 0, 1] = torch.logit(torch.tensor(p))
        logits.requires_grad_(True)
        target = {"labels": torch.tensor([1]), "boxes": box.clone()}
        if quality is not None:
            target["quality"] = torch.tensor([quality])
        boxes = torch.cat([box, torch.tensor([[0.2, 0.2, 0.1, 0.1, 0.0]])])[None]
        terms = crit._terms(logits, boxes, [target], indices, 1.0)
        terms["vfl"].backward()
        assert logits.grad is not None
        return float(logits.grad[0, 0, 1])

    assert abs(grad_at(0.3, 0.3)) < 1e-4
    assert grad_at(0.2, 0.3) < -1e-3 and grad_at(0.4, 0.3) > 1e-3
    assert abs(grad_at(0.3, None)) > 1e-2  # without a quality the target is the IoU (1)
    assert abs(grad_at(0.999, None)) < 1e-2
