"""Contrastive denoising: noised ground-truth boxes as extra decoder queries (training only).

Positives carry small noise and must reconstruct their box; negatives carry large noise and
must be rejected. The order of the random draws is part of training's reproducibility.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from inference.ncls.detection.model.box_coding import wrap_half_turn
from inference.ncls.detection.model.config import DetectorConfig


@dataclass(frozen=True)
class DenoisingQueries:
    """Denoising queries to put before the matching queries, and how to read them back."""

    tgt: torch.Tensor  # (B, num_dn, D) label embeddings
    ref: torch.Tensor  # (B, num_dn, 5) noised reference boxes
    mask: torch.Tensor  # (num_dn + Q, num_dn + Q) attention mask, True = blocked
    meta: dict[str, Any]  # num_dn, groups, pos_index, counts (read by the loss)


def denoising_queries(
    cfg: DetectorConfig,
    embed: nn.Embedding,
    targets: list[dict[str, torch.Tensor]],
    num_queries: int,
    device: torch.device,
) -> DenoisingQueries | None:
    """Noised ground truth as extra queries, in groups of positives then negatives.

    None when no image of the batch has a ground-truth box.
    """
    counts = [int(t["labels"].numel()) for t in targets]
    max_gt = max(counts) if counts else 0
    if max_gt == 0:
        return None
    groups = max(1, cfg.num_denoising // max_gt)
    b = len(targets)
    per_group = 2 * max_gt
    total = groups * per_group
    labels = torch.full((b, total), cfg.num_classes, dtype=torch.long, device=device)
    boxes = torch.zeros((b, total, 5), device=device)
    boxes[..., 2:4] = 0.01
    pos_index: list[torch.Tensor] = []
    for i, t in enumerate(targets):
        n = counts[i]
        if n == 0:
            pos_index.append(torch.zeros(0, dtype=torch.long, device=device))
            continue
        slots = []
        for g in range(groups):
            base = g * per_group
            slots.append(torch.arange(base, base + n, device=device))
            for neg, off in ((False, base), (True, base + max_gt)):
                lab, bx = _noised_ground_truth(cfg, t, negative=neg, device=device)
                labels[i, off : off + n] = lab
                boxes[i, off : off + n] = bx
        pos_index.append(torch.cat(slots))
    meta = {"num_dn": total, "groups": groups, "pos_index": pos_index, "counts": counts}
    return DenoisingQueries(
        tgt=embed(labels),
        ref=boxes,
        mask=_attention_mask(total, groups, per_group, num_queries, device),
        meta=meta,
    )


def _noised_ground_truth(
    cfg: DetectorConfig, target: dict[str, torch.Tensor], *, negative: bool, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """One image's labels with some flipped and its boxes shifted, resized and turned."""
    n = int(target["labels"].numel())
    lab = target["labels"].clone()
    flip = torch.rand(n, device=device) < cfg.label_noise_ratio * 0.5
    lab[flip] = torch.randint(0, cfg.num_classes, (int(flip.sum()),), device=device)
    bx = target["boxes"].clone().float()
    mag = torch.rand(n, 5, device=device) + (1.0 if negative else 0.0)
    sign = torch.randint(0, 2, (n, 5), device=device) * 2.0 - 1.0
    noise = sign * mag
    scale = cfg.box_noise_scale
    bx[:, 0] = bx[:, 0] + noise[:, 0] * bx[:, 2] * 0.5 * scale * 0.5
    bx[:, 1] = bx[:, 1] + noise[:, 1] * bx[:, 3] * 0.5 * scale * 0.5
    bx[:, 2] = bx[:, 2] * (1.0 + noise[:, 2] * 0.5 * scale * 0.5)
    bx[:, 3] = bx[:, 3] * (1.0 + noise[:, 3] * 0.5 * scale * 0.5)
    bx[:, 4] = wrap_half_turn(bx[:, 4] + noise[:, 4] * cfg.angle_noise_deg / 180.0)
    bx[:, :4] = bx[:, :4].clamp(1e-3, 1 - 1e-3)
    return lab, bx


def _attention_mask(
    total: int, groups: int, per_group: int, num_queries: int, device: torch.device
) -> torch.Tensor:
    """Self-attention mask: no group sees another, matching queries see no ground truth."""
    size = total + num_queries
    mask = torch.zeros((size, size), dtype=torch.bool, device=device)
    mask[total:, :total] = True  # matching queries never see the ground truth
    for g in range(groups):
        lo, hi = g * per_group, (g + 1) * per_group
        mask[lo:hi, :lo] = True
        mask[lo:hi, hi:total] = True
    return mask
