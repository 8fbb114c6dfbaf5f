"""Hungarian matching and the detection losses (Varifocal, L1, rotated DIoU).

All boxes here are the model's normalised ``(cx, cy, w, h, a)`` with ``a`` in half-turns.
The angle enters the L1 term and the matching cost as its smallest periodic difference, and
IoU/DIoU see the same geometry through :func:`to_degrees` — one convention, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

from inference.ncls.detection.boxes import rotated_diou_loss, rotated_iou, rotated_iou_diff
from inference.ncls.detection.model import wrap_half_turn


def to_degrees(boxes: torch.Tensor) -> torch.Tensor:
    """Model boxes → the boxes-module convention (angle in degrees; units unchanged)."""
    return torch.cat([boxes[..., :4], boxes[..., 4:] * 180.0], -1)


def box_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Elementwise L1 over centre, size and periodic angle difference, summed per box."""
    ang = wrap_half_turn(pred[..., 4] - target[..., 4]).abs()
    return (pred[..., :4] - target[..., :4]).abs().sum(-1) + ang


@dataclass(frozen=True)
class MatchWeights:
    """Weights of the matching cost and of the loss terms (RT-DETR's defaults)."""

    cost_class: float = 2.0
    cost_l1: float = 5.0
    cost_iou: float = 2.0
    loss_vfl: float = 1.0
    loss_l1: float = 5.0
    loss_diou: float = 2.0
    alpha: float = 0.25
    gamma: float = 2.0


@torch.no_grad()
def hungarian_match(
    logits: torch.Tensor,
    boxes: torch.Tensor,
    targets: list[dict[str, torch.Tensor]],
    w: MatchWeights,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per image, (query indices, target indices) minimising focal class cost + L1 + (1 − rIoU)."""
    out = []
    for i, t in enumerate(targets):
        labels, tboxes = t["labels"], t["boxes"]
        if labels.numel() == 0:
            empty = torch.zeros(0, dtype=torch.long)
            out.append((empty, empty))
            continue
        p = logits[i].sigmoid().float()[:, labels]
        neg = (1 - w.alpha) * p**w.gamma * -(1 - p + 1e-8).log()
        pos = w.alpha * (1 - p) ** w.gamma * -(p + 1e-8).log()
        c_cls = pos - neg
        pb = boxes[i].float()
        c_l1 = torch.cdist(pb[:, :4], tboxes[:, :4].float(), p=1)
        c_l1 = c_l1 + wrap_half_turn(pb[:, None, 4] - tboxes[None, :, 4].float()).abs()
        c_iou = 1.0 - rotated_iou(to_degrees(pb), to_degrees(tboxes.float()))
        cost = w.cost_class * c_cls + w.cost_l1 * c_l1 + w.cost_iou * c_iou
        cost = torch.nan_to_num(cost, nan=1e4, posinf=1e4, neginf=-1e4)
        rows, cols = linear_sum_assignment(cost.cpu().numpy())
        out.append(
            (torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(cols, dtype=torch.long))
        )
    return out


def varifocal_loss(
    logits: torch.Tensor,
    target_score: torch.Tensor,
    onehot: torch.Tensor,
    alpha: float,
    gamma: float,
) -> torch.Tensor:
    """Varifocal loss (Zhang et al. 2021), IoU-aware targets for positives."""
    p = logits.sigmoid().detach()
    weight = alpha * p.pow(gamma) * (1 - onehot) + target_score
    return F.binary_cross_entropy_with_logits(logits, target_score, weight=weight, reduction="none")


class DetectionLoss(torch.nn.Module):
    """Sum of VFL + L1 + rotated DIoU over the last layer, auxiliary layers, encoder
    proposals and denoising groups."""

    def __init__(self, num_classes: int, weights: MatchWeights | None = None) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.w = weights or MatchWeights()

    def _terms(
        self,
        logits: torch.Tensor,
        boxes: torch.Tensor,
        targets: list[dict[str, torch.Tensor]],
        indices: list[tuple[torch.Tensor, torch.Tensor]],
        num_boxes: float,
    ) -> dict[str, torch.Tensor]:
        dev = logits.device
        bi = torch.cat([torch.full_like(s, i) for i, (s, _) in enumerate(indices)]).to(dev)
        qi = torch.cat([s for s, _ in indices]).to(dev)
        pred = boxes[bi, qi]
        tgt = torch.cat(
            [t["boxes"][j.to(dev)] for t, (_, j) in zip(targets, indices, strict=True)]
        ).float()
        lab = torch.cat(
            [t["labels"][j.to(dev)] for t, (_, j) in zip(targets, indices, strict=True)]
        )
        quality = torch.cat(
            [
                t["quality"][j.to(dev)] if "quality" in t else torch.ones(len(j), device=dev)
                for t, (_, j) in zip(targets, indices, strict=True)
            ]
        ).float()
        onehot = torch.zeros_like(logits)
        score = torch.zeros_like(logits)
        if len(qi):
            iou, _ = rotated_iou_diff(to_degrees(pred.detach()), to_degrees(tgt))
            onehot[bi, qi, lab] = 1.0
            # Varifocal target: IoU × the frame's plane quality, so confidence peaks where
            # the box is right and the plane is the view's ideal one
            score[bi, qi, lab] = (iou.clamp(0, 1) * quality).to(score.dtype)
            l1 = box_l1(pred, tgt).sum() / num_boxes
            diou = rotated_diou_loss(to_degrees(pred), to_degrees(tgt)).sum() / num_boxes
        else:
            l1 = diou = boxes.sum() * 0.0
        vfl = varifocal_loss(logits, score, onehot, self.w.alpha, self.w.gamma)
        vfl = vfl.mean(1).sum() * logits.shape[1] / num_boxes
        return {"vfl": vfl, "l1": l1, "diou": diou}

    def forward(
        self, out: dict[str, Any], targets: list[dict[str, torch.Tensor]]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Total loss and its named parts (floats, for logging)."""
        num_boxes = max(1.0, float(sum(int(t["labels"].numel()) for t in targets)))
        parts: dict[str, torch.Tensor] = {}

        def add(
            prefix: str, logits: torch.Tensor, boxes: torch.Tensor, indices: Any = None
        ) -> None:
            if indices is None:
                indices = hungarian_match(logits, boxes, targets, self.w)
            for k, v in self._terms(logits, boxes, targets, indices, num_boxes).items():
                parts[f"{prefix}{k}"] = v

        add("", out["logits"], out["boxes"])
        for i in range(out["aux_logits"].shape[0]):
            add(f"aux{i}_", out["aux_logits"][i], out["aux_boxes"][i])
        add("enc_", out["enc_logits"], out["enc_boxes"])
        meta = out.get("dn_meta")
        if meta is not None:
            dn_idx = []
            for pos, n in zip(meta["pos_index"], meta["counts"], strict=True):
                tj = torch.arange(n, dtype=torch.long).repeat(meta["groups"])
                dn_idx.append((pos.cpu(), tj))
            dn_boxes_n = num_boxes * meta["groups"]
            for i in range(out["dn_logits"].shape[0]):
                for k, v in self._terms(
                    out["dn_logits"][i], out["dn_boxes"][i], targets, dn_idx, dn_boxes_n
                ).items():
                    parts[f"dn{i}_{k}"] = v
        total = sum(
            (
                v
                * {"vfl": self.w.loss_vfl, "l1": self.w.loss_l1, "diou": self.w.loss_diou}[
                    k.rsplit("_", 1)[-1]
                ]
                for k, v in parts.items()
            ),
            start=torch.zeros((), device=out["logits"].device),
        )
        return total, {k: float(v.detach()) for k, v in parts.items()}
