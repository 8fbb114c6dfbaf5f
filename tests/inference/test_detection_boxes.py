"""Rotated box operations against OpenCV as oracle, and their periodicity."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from inference.ncls.detection.boxes import (
    canonical,
    corners,
    from_corners,
    rotated_diou_loss,
    rotated_iou,
    rotated_iou_diff,
    rotated_iou_torchvision,
    wrap_angle_deg,
)

torch.set_num_threads(1)


def cv2_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU by cv2.rotatedRectangleIntersection (same angle convention as ours)."""
    r1 = ((float(a[0]), float(a[1])), (float(a[2]), float(a[3])), float(a[4]))
    r2 = ((float(b[0]), float(b[1])), (float(b[2]), float(b[3])), float(b[4]))
    _, pts = cv2.rotatedRectangleIntersection(r1, r2)
    inter = 0.0 if pts is None or len(pts) < 3 else float(cv2.contourArea(cv2.convexHull(pts)))
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


@pytest.fixture
def pairs() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    b1 = torch.rand(300, 5, generator=gen, dtype=torch.float64) * torch.tensor(
        [60, 60, 40, 40, 360.0]
    )
    b1 = b1 + torch.tensor([20, 20, 2, 2, -180.0], dtype=torch.float64)
    b2 = b1 + torch.randn(300, 5, generator=gen, dtype=torch.float64) * torch.tensor(
        [6, 6, 5, 5, 30.0]
    )
    b2[:, 2:4] = b2[:, 2:4].abs() + 1
    return b1, b2


def test_iou_matches_opencv(pairs: tuple[torch.Tensor, torch.Tensor]) -> None:
    b1, b2 = pairs
    oracle = np.array([cv2_iou(a.numpy(), b.numpy()) for a, b in zip(b1, b2, strict=True)])
    exact = torch.diagonal(rotated_iou(b1, b2)).numpy()
    diff, _ = rotated_iou_diff(b1, b2)
    tv = torch.diagonal(rotated_iou_torchvision(b1, b2)).numpy()
    assert (oracle > 0.05).sum() > 200  # the test really exercises overlaps
    np.testing.assert_allclose(exact, oracle, atol=1e-3)
    np.testing.assert_allclose(diff.numpy(), oracle, atol=1e-3)
    np.testing.assert_allclose(tv, oracle, atol=1e-3)  # same convention as torchvision's


def test_torchvision_kernel_fails_on_coincident_forms() -> None:
    """A box and an equivalent form (theta + 180) overlap exactly (torchvision 0.29.1 said 0.6)."""
    box = torch.tensor([[59.5626, 52.7876, 3.9690, 12.6053, -21.1758]], dtype=torch.float64)
    same = torch.tensor([[59.5626, 52.7876, 3.9690, 12.6053, 158.8242]], dtype=torch.float64)
    assert float(rotated_iou(same, box)) == pytest.approx(1.0, abs=1e-6)


def test_periodicity_and_swap(pairs: tuple[torch.Tensor, torch.Tensor]) -> None:
    b1, b2 = pairs
    base = torch.diagonal(rotated_iou(b1, b2))
    shifted = b1.clone()
    shifted[:, 4] += 180.0
    swapped = b1[:, [0, 1, 3, 2, 4]].clone()
    swapped[:, 4] += 90.0
    swapped_minus = b1[:, [0, 1, 3, 2, 4]].clone()
    swapped_minus[:, 4] -= 90.0
    for other in (shifted, swapped, swapped_minus):
        torch.testing.assert_close(torch.diagonal(rotated_iou(other, b2)), base, atol=1e-4, rtol=0)
        torch.testing.assert_close(
            rotated_iou_diff(other, b2)[0], rotated_iou_diff(b1, b2)[0], atol=1e-4, rtol=0
        )
        # the same box in every form: identical canonical form and IoU 1 with the original
        torch.testing.assert_close(canonical(other), canonical(b1), atol=1e-6, rtol=0)
        np.testing.assert_allclose(torch.diagonal(rotated_iou(other, b1)).numpy(), 1.0, atol=1e-4)


def test_canonical_form() -> None:
    boxes = torch.tensor(
        [[0, 0, 10.0, 20.0, 30.0], [0, 0, 20.0, 10.0, 95.0], [0, 0, 20.0, 10.0, -90.0]]
    )
    out = canonical(boxes)
    assert (out[:, 2] >= out[:, 3]).all()
    assert ((out[:, 4] >= -90) & (out[:, 4] < 90)).all()
    torch.testing.assert_close(out[0], torch.tensor([0, 0, 20.0, 10.0, -60.0]))
    torch.testing.assert_close(out[1], torch.tensor([0, 0, 20.0, 10.0, -85.0]))
    torch.testing.assert_close(
        wrap_angle_deg(torch.tensor([90.0, -90.0, 270.0])), torch.tensor([-90.0, -90.0, -90.0])
    )


def test_corners_match_opencv_and_round_trip() -> None:
    box = np.array([50.0, 40.0, 30.0, 12.0, 25.0])
    ours = corners(torch.as_tensor(box)).numpy()
    theirs = cv2.boxPoints(((box[0], box[1]), (box[2], box[3]), box[4]))
    # same point set (order may start elsewhere)
    for p in theirs:
        assert np.min(np.linalg.norm(ours - p, axis=1)) < 1e-3
    back = from_corners(ours[None])[0]
    np.testing.assert_allclose(back, box, atol=1e-3)


def test_diou_gradient_and_zero_at_identity(pairs: tuple[torch.Tensor, torch.Tensor]) -> None:
    b1, b2 = pairs
    pred = b1.clone().float().requires_grad_(True)
    loss = rotated_diou_loss(pred, b2.float())
    loss.sum().backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()
    assert (loss >= 0).all()
    same = rotated_diou_loss(b2.float(), b2.float())
    assert same.abs().max() < 1e-4
    far = b2.float().clone()
    far[:, 0] += 500
    assert (rotated_diou_loss(far, b2.float()) > 1.0).all()
