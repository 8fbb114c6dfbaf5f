"""Rotated boxes: one angle convention, corner form, rotated IoU and DIoU.

Convention used everywhere in stage 1 (detector output, training targets, checkpoints,
``views.json``): a box is ``(cx, cy, w, h, theta)`` in pixel coordinates of the image
(x to the right, y down), ``theta`` in degrees, and the box's *w* axis points along
``(cos theta, sin theta)`` — i.e. positive angles turn clockwise on screen, the same as
OpenCV's ``RotatedRect``. The canonical form is *long-edge*: ``w >= h`` and
``theta`` in ``[-90, 90)``. Every box has exactly one canonical form (up to squares),
because ``theta`` and ``theta ± 180`` describe the same box and ``(w, h, theta)`` equals
``(h, w, theta ± 90)``.

torchvision's ``box_iou(fmt="cxcywhr")`` turns counter-clockwise on screen, so its angle
is the negative of ours (:func:`rotated_iou_torchvision`); it is not used for matching or
evaluation because of wrong results on coincident boxes (see :func:`rotated_iou`).
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.ops import box_iou

#: Name recorded in checkpoints and views.json.
ANGLE_CONVENTION = "opencv-clockwise-deg; long-edge w>=h; theta in [-90, 90)"


def wrap_angle_deg(theta: torch.Tensor) -> torch.Tensor:
    """Map angles (degrees) onto ``[-90, 90)``; the gradient passes through unchanged."""
    return theta - 180.0 * torch.floor((theta + 90.0) / 180.0)


def angle_diff_deg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Signed smallest difference ``a - b`` of two box angles, modulo 180°, in ``[-90, 90)``."""
    return wrap_angle_deg(a - b)


def canonical(boxes: torch.Tensor) -> torch.Tensor:
    """Long-edge canonical form of ``(..., 5)`` boxes: ``w >= h``, ``theta`` in ``[-90, 90)``."""
    cx, cy, w, h, t = boxes.unbind(-1)
    swap = h > w
    w2 = torch.where(swap, h, w)
    h2 = torch.where(swap, w, h)
    t2 = wrap_angle_deg(torch.where(swap, t + 90.0, t))
    return torch.stack([cx, cy, w2, h2, t2], dim=-1)


def canonical_np(boxes: np.ndarray) -> np.ndarray:
    """NumPy version of :func:`canonical`."""
    return canonical(torch.as_tensor(np.asarray(boxes, dtype=np.float64))).numpy()


def corners(boxes: torch.Tensor) -> torch.Tensor:
    """Corners ``(..., 4, 2)`` of ``(..., 5)`` boxes, in order around the box."""
    cx, cy, w, h, t = boxes.unbind(-1)
    rad = torch.deg2rad(t)
    cos, sin = torch.cos(rad), torch.sin(rad)
    # half-axis vectors along w and h
    ux, uy = cos * w / 2, sin * w / 2
    vx, vy = -sin * h / 2, cos * h / 2
    xs = torch.stack([cx - ux - vx, cx + ux - vx, cx + ux + vx, cx - ux + vx], dim=-1)
    ys = torch.stack([cy - uy - vy, cy + uy - vy, cy + uy + vy, cy - uy + vy], dim=-1)
    return torch.stack([xs, ys], dim=-1)


def from_corners(points: np.ndarray) -> np.ndarray:
    """Canonical ``(N, 5)`` boxes from ``(N, 4, 2)`` corner points (minimum-area rectangle)."""
    points = np.asarray(points, dtype=np.float32).reshape(-1, 4, 2)
    out = np.zeros((len(points), 5), dtype=np.float64)
    for i, quad in enumerate(points):
        (cx, cy), (w, h), theta = _min_area_rect(quad)
        out[i] = (cx, cy, w, h, theta)
    return canonical_np(out)


def _min_area_rect(quad: np.ndarray) -> tuple[tuple[float, float], tuple[float, float], float]:
    # Local import keeps cv2 optional for model-only users.
    import cv2

    (cx, cy), (w, h), theta = cv2.minAreaRect(quad.astype(np.float32))
    return (float(cx), float(cy)), (float(w), float(h)), float(theta)


def rotated_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """Pairwise rotated IoU ``(N, M)`` without gradient.

    torchvision 0.29's ``box_iou(fmt="cxcywhr")`` is not used here: it returns wrong values
    (0.45–0.65 instead of 1) for some coincident boxes written in different but equivalent
    forms (theta vs theta ± 90° with w/h swapped), which would break matching and mAP of
    near-perfect predictions. Our polygon clipping is exact there; the tests compare both
    with OpenCV.
    """
    n, m = boxes1.shape[0], boxes2.shape[0]
    if n == 0 or m == 0:
        return boxes1.new_zeros((n, m))
    with torch.no_grad():
        a = boxes1.detach().double()[:, None, :].expand(n, m, 5).reshape(-1, 5)
        b = boxes2.detach().double()[None, :, :].expand(n, m, 5).reshape(-1, 5)
        iou, _ = rotated_iou_diff(a, b)
        return iou.view(n, m).to(boxes1.dtype)


def rotated_iou_torchvision(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """torchvision's pairwise rotated IoU in our convention (its angle turns the other way)."""
    flip = torch.tensor([1.0, 1.0, 1.0, 1.0, -1.0], dtype=torch.float32, device=boxes1.device)
    with torch.no_grad():
        return box_iou(boxes1.float() * flip, boxes2.float() * flip, fmt="cxcywhr").to(boxes1.dtype)


def _cross2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _inside(points: torch.Tensor, quad: torch.Tensor) -> torch.Tensor:
    """Whether points ``(N, P, 2)`` lie inside convex quads ``(N, 4, 2)`` (either winding)."""
    edges = torch.roll(quad, -1, dims=1) - quad  # (N, 4, 2)
    rel = points[:, :, None, :] - quad[:, None, :, :]  # (N, P, 4, 2)
    side = _cross2(edges[:, None].expand_as(rel), rel)  # (N, P, 4)
    eps = 1e-6
    return (side >= -eps).all(-1) | (side <= eps).all(-1)


def _intersection_area(quad1: torch.Tensor, quad2: torch.Tensor) -> torch.Tensor:
    """Differentiable area of the intersection of two convex quads, elementwise ``(N,)``."""
    n = quad1.shape[0]
    # Edge–edge intersections: 4 x 4 candidates.
    p = quad1[:, :, None, :]  # (N,4,1,2)
    r = (torch.roll(quad1, -1, dims=1) - quad1)[:, :, None, :]
    q = quad2[:, None, :, :]  # (N,1,4,2)
    s = (torch.roll(quad2, -1, dims=1) - quad2)[:, None, :, :]
    denom = _cross2(r.expand(n, 4, 4, 2), s.expand(n, 4, 4, 2))
    qp = q - p
    safe = torch.where(denom.abs() < 1e-9, torch.ones_like(denom), denom)
    t = _cross2(qp, s.expand(n, 4, 4, 2)) / safe
    u = _cross2(qp, r.expand(n, 4, 4, 2)) / safe
    valid_x = (denom.abs() >= 1e-9) & (t >= 0) & (t <= 1) & (u >= 0) & (u <= 1)
    pts_x = (p + t[..., None] * r).reshape(n, 16, 2)
    valid_x = valid_x.reshape(n, 16)
    in1 = _inside(quad1, quad2)  # corners of 1 inside 2
    in2 = _inside(quad2, quad1)
    pts = torch.cat([quad1, quad2, pts_x], dim=1)  # (N, 24, 2)
    valid = torch.cat([in1, in2, valid_x], dim=1)
    count = valid.sum(-1, keepdim=True).clamp_min(1)
    vmask = valid[..., None].to(pts.dtype)
    center = (pts * vmask).sum(1, keepdim=True) / count[..., None]
    rel = pts - center
    ang = torch.atan2(rel[..., 1], rel[..., 0])
    ang = torch.where(valid, ang, torch.full_like(ang, 10.0))  # invalid ones sort last
    order = ang.argsort(dim=1)
    sorted_pts = torch.gather(pts, 1, order[..., None].expand(-1, -1, 2))
    sorted_valid = torch.gather(valid, 1, order)
    # Replace invalid vertices by the first vertex: they then add nothing to the area.
    first = sorted_pts[:, :1, :].expand_as(sorted_pts)
    sorted_pts = torch.where(sorted_valid[..., None], sorted_pts, first)
    nxt = torch.roll(sorted_pts, -1, dims=1)
    area = 0.5 * _cross2(sorted_pts, nxt).sum(-1).abs()
    return torch.where(valid.sum(-1) >= 3, area, torch.zeros_like(area))


def rotated_iou_diff(
    boxes1: torch.Tensor, boxes2: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Differentiable elementwise rotated IoU of ``(N, 5)`` box pairs; returns (iou, union)."""
    dtype = torch.float64 if boxes1.dtype == torch.float64 else torch.float32
    b1 = boxes1.to(dtype)
    b2 = boxes2.to(dtype)
    inter = _intersection_area(corners(b1), corners(b2))
    area1 = b1[:, 2] * b1[:, 3]
    area2 = b2[:, 2] * b2[:, 3]
    union = area1 + area2 - inter
    return inter / union.clamp_min(1e-9), union


def rotated_diou_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Elementwise rotated DIoU loss ``1 - IoU + d² / c²``.

    ``d`` is the distance between centres and ``c`` the diagonal of the smallest axis-aligned
    rectangle holding both boxes' corners.
    """
    iou, _ = rotated_iou_diff(pred, target)
    c1 = corners(pred.float())
    c2 = corners(target.float())
    allc = torch.cat([c1, c2], dim=1)
    span = allc.amax(1) - allc.amin(1)
    diag2 = (span**2).sum(-1).clamp_min(1e-9)
    dist2 = ((pred[:, :2].float() - target[:, :2].float()) ** 2).sum(-1)
    return 1.0 - iou + dist2 / diag2


def to_dota_line(box: np.ndarray | list[float], class_name: str, difficult: int = 0) -> str:
    """One DOTA v1 label line (8 corner coordinates, class name, difficult flag)."""
    pts = corners(torch.as_tensor(np.asarray(box, dtype=np.float64))).numpy().reshape(-1)
    return " ".join(f"{v:.1f}" for v in pts) + f" {class_name} {difficult}"
