"""The decoder: rotated deformable cross-attention layers and the small MLP heads."""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from inference.ncls.detection.model.config import DetectorConfig


class MLP(nn.Module):
    """A few linear layers with ReLU between."""

    def __init__(self, cin: int, hidden: int, cout: int, layers: int) -> None:
        super().__init__()
        dims = [cin] + [hidden] * (layers - 1) + [cout]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x


class RotatedDeformableAttention(nn.Module):
    """Multi-scale deformable attention whose sampling pattern turns with the reference box."""

    def __init__(self, dim: int, heads: int, levels: int, points: int) -> None:
        super().__init__()
        self.heads, self.levels, self.points = heads, levels, points
        self.head_dim = dim // heads
        self.offsets = nn.Linear(dim, heads * levels * points * 2)
        self.weights = nn.Linear(dim, heads * levels * points)
        self.value = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        nn.init.zeros_(self.offsets.weight)
        thetas = torch.arange(heads, dtype=torch.float32) * (2.0 * math.pi / heads)
        grid = torch.stack([thetas.cos(), thetas.sin()], -1)
        grid = grid / grid.abs().max(-1, keepdim=True).values
        grid = grid.view(heads, 1, 1, 2).repeat(1, levels, points, 1)
        for i in range(points):
            grid[:, :, i, :] *= i + 1
        with torch.no_grad():
            self.offsets.bias.copy_(grid.flatten())
        nn.init.zeros_(self.weights.weight)
        nn.init.zeros_(self.weights.bias)

    def forward(
        self,
        query: torch.Tensor,
        ref: torch.Tensor,
        memory: torch.Tensor,
        shapes: list[tuple[int, int]],
    ) -> torch.Tensor:
        b, q, _d = query.shape
        hh, lv, pp, hd = self.heads, self.levels, self.points, self.head_dim
        value = self.value(memory)
        off = self.offsets(query).view(b, q, hh, lv, pp, 2) / pp
        attw = self.weights(query).view(b, q, hh, lv * pp).softmax(-1).view(b, q, hh, lv, pp)
        cx, cy, w, h, a = (t[:, :, None, None, None] for t in ref.unbind(-1))
        ang = a * math.pi
        cos, sin = torch.cos(ang), torch.sin(ang)
        ox, oy = off[..., 0] * w * 0.5, off[..., 1] * h * 0.5
        sx = cx + cos * ox - sin * oy
        sy = cy + sin * ox + cos * oy
        grid = torch.stack([sx, sy], -1) * 2.0 - 1.0  # (b, q, hh, lv, pp, 2)
        out = query.new_zeros((b * hh, hd, q, pp))
        start = 0
        for lvl, (fh, fw) in enumerate(shapes):
            v = value[:, start : start + fh * fw].view(b, fh, fw, hh, hd).permute(0, 3, 4, 1, 2)
            v = v.reshape(b * hh, hd, fh, fw)
            start += fh * fw
            g = grid[:, :, :, lvl].permute(0, 2, 1, 3, 4).reshape(b * hh, q, pp, 2)
            sampled = F.grid_sample(
                v, g.to(v.dtype), mode="bilinear", padding_mode="zeros", align_corners=False
            )
            wl = attw[:, :, :, lvl].permute(0, 2, 1, 3).reshape(b * hh, 1, q, pp)
            out = out + sampled * wl.to(sampled.dtype)
        out = out.sum(-1).view(b, hh * hd, q).transpose(1, 2)
        return self.out(out)


class DecoderLayer(nn.Module):
    """Self-attention, rotated deformable cross-attention, feed-forward."""

    def __init__(self, cfg: DetectorConfig) -> None:
        super().__init__()
        d = cfg.hidden_dim
        self.self_attn = nn.MultiheadAttention(d, cfg.num_heads, batch_first=True)
        self.norm1 = nn.LayerNorm(d)
        self.cross = RotatedDeformableAttention(d, cfg.num_heads, 3, cfg.num_points)
        self.norm2 = nn.LayerNorm(d)
        self.ffn = nn.Sequential(
            nn.Linear(d, cfg.decoder_ffn_dim), nn.ReLU(), nn.Linear(cfg.decoder_ffn_dim, d)
        )
        self.norm3 = nn.LayerNorm(d)

    def forward(
        self,
        tgt: torch.Tensor,
        pos: torch.Tensor,
        ref: torch.Tensor,
        memory: torch.Tensor,
        shapes: list[tuple[int, int]],
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        q = tgt + pos
        tgt = self.norm1(tgt + self.self_attn(q, q, tgt, attn_mask=mask, need_weights=False)[0])
        tgt = self.norm2(tgt + self.cross(tgt + pos, ref, memory, shapes))
        return self.norm3(tgt + self.ffn(tgt))
