"""How the model codes a box ``(cx, cy, w, h, a)``: logits for size, wrapped half-turns."""

from __future__ import annotations

import math

import torch


def inverse_sigmoid(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Logit of ``x`` clipped away from 0 and 1."""
    x = x.clamp(eps, 1 - eps)
    return torch.log(x / (1 - x))


def wrap_half_turn(a: torch.Tensor) -> torch.Tensor:
    """Wrap angles in half-turns to ``[-0.5, 0.5)``; gradient 1."""
    return a - torch.floor(a + 0.5)


def box_embedding_input(ref: torch.Tensor) -> torch.Tensor:
    """Features of a reference box for the query position MLP (angle as sin/cos of 2πa)."""
    a = ref[..., 4] * 2.0 * math.pi
    return torch.cat([ref[..., :4], a.sin()[..., None], a.cos()[..., None]], -1)


def refine(ref: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """Apply a predicted delta to a reference box (logit space for size, wrap for angle)."""
    xywh = torch.sigmoid(inverse_sigmoid(ref[..., :4]) + delta[..., :4])
    a = wrap_half_turn(ref[..., 4:] + delta[..., 4:])
    return torch.cat([xywh, a], -1)
