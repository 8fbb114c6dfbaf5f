"""RT-DETRv2 decoder with five-number boxes (cx, cy, w, h, angle), as the authors trained it.

Why the details matter: their checkpoint fixes the layout (attribute names mirror its keys,
``decoder.decoder.layers.0.cross_attn.sampling_offsets.weight`` ...), and the golden outputs
fix the arithmetic. Points worth knowing:

* every box coordinate, the angle included, is the sigmoid of (head output + inverse sigmoid
  of the previous reference), so the angle output lies in (0, 1) and is never rescaled;
* the anchors and the valid-anchor mask are *stored buffers* (part of the checkpoint), and
  so is each cross-attention's per-point offset scale; we use the stored values, never
  regenerate them;
* the deformable cross-attention samples around the reference centre with offsets scaled by
  the reference width/height (the angle is ignored when sampling), 4 points on each of the
  3 levels, one softmax over all 12 points of a head;
* in eval mode only the last layer's heads are evaluated; denoising queries are training-only
  (their class embedding is kept solely so the checkpoint loads strictly).
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["RTDETRv2Decoder", "generate_anchors", "inverse_sigmoid"]


def inverse_sigmoid(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Logit of ``x`` clipped to [0, 1], both odds terms floored at ``eps`` (as trained)."""
    x = x.clamp(0.0, 1.0)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))


class MLP(nn.Module):
    """Linear layers with ReLU between them, under ``.layers`` (checkpoint layout)."""

    def __init__(self, d_in: int, d_hidden: int, d_out: int, depth: int) -> None:
        super().__init__()
        dims = [d_in] + [d_hidden] * (depth - 1) + [d_out]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < last:
                x = F.relu(x)
        return x


class DeformableCrossAttention(nn.Module):
    """Multi-scale deformable attention, v2 flavour (per-level point counts, shared softmax)."""

    num_points_scale: torch.Tensor

    def __init__(self, dim: int = 256, heads: int = 8, points: tuple[int, ...] = (4, 4, 4)) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.points = points
        total = sum(points)
        self.offset_scale = 0.5
        # 1/n for each point of a level with n points; a buffer, so the checkpoint's copy wins
        scale = [1.0 / n for n in points for _ in range(n)]
        self.register_buffer("num_points_scale", torch.tensor(scale, dtype=torch.float32))
        self.sampling_offsets = nn.Linear(dim, heads * total * 2)
        self.attention_weights = nn.Linear(dim, heads * total)
        self.value_proj = nn.Linear(dim, dim)
        self.output_proj = nn.Linear(dim, dim)

    def forward(
        self,
        query: torch.Tensor,
        reference: torch.Tensor,
        value: torch.Tensor,
        shapes: list[tuple[int, int]],
    ) -> torch.Tensor:
        """``query`` [B,Q,C], ``reference`` [B,Q,5] in [0,1], ``value`` [B,sum(HW),C]."""
        b, q, _ = query.shape
        total = sum(self.points)
        v = self.value_proj(value).reshape(b, -1, self.heads, self.head_dim)
        offsets = self.sampling_offsets(query).reshape(b, q, self.heads, total, 2)
        weights = self.attention_weights(query).reshape(b, q, self.heads, total).softmax(-1)

        centre = reference[:, :, None, None, :2]
        size = reference[:, :, None, None, 2:4]
        point_scale = self.num_points_scale.to(query.dtype)[:, None]
        locations = centre + offsets * point_scale * size * self.offset_scale
        # grid_sample wants [-1, 1] coordinates, one batch row per (image, head)
        grids = (2 * locations - 1).permute(0, 2, 1, 3, 4).flatten(0, 1)

        # value rows per (image, head): [B*heads, head_dim, tokens]
        v = v.permute(0, 2, 3, 1).flatten(0, 1)
        sampled = []
        start = 0
        for (h, w), grid in zip(shapes, grids.split(list(self.points), dim=2), strict=True):
            level = v[..., start : start + h * w].reshape(b * self.heads, self.head_dim, h, w)
            start += h * w
            sampled.append(
                F.grid_sample(
                    level, grid, mode="bilinear", padding_mode="zeros", align_corners=False
                )
            )
        attn = weights.permute(0, 2, 1, 3).reshape(b * self.heads, 1, q, total)
        out = (torch.cat(sampled, dim=-1) * attn).sum(-1)  # [B*heads, head_dim, Q]
        out = out.reshape(b, self.heads * self.head_dim, q).transpose(1, 2)
        return self.output_proj(out)


class DecoderLayer(nn.Module):
    """Post-norm: self-attention, deformable cross-attention, ReLU FFN."""

    def __init__(self, dim: int = 256, heads: int = 8, ffn: int = 1024) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=0.0, batch_first=True)
        self.norm1 = nn.LayerNorm(dim)
        self.cross_attn = DeformableCrossAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.linear1 = nn.Linear(dim, ffn)
        self.linear2 = nn.Linear(ffn, dim)
        self.norm3 = nn.LayerNorm(dim)

    def forward(
        self,
        target: torch.Tensor,
        reference: torch.Tensor,
        memory: torch.Tensor,
        shapes: list[tuple[int, int]],
        pos: torch.Tensor,
    ) -> torch.Tensor:
        qk = target + pos
        target = self.norm1(target + self.self_attn(qk, qk, target, need_weights=False)[0])
        target = self.norm2(target + self.cross_attn(target + pos, reference, memory, shapes))
        return self.norm3(target + self.linear2(F.relu(self.linear1(target))))


class LayerStack(nn.Module):
    """Holds the decoder layers under ``.layers`` (the checkpoint's ``decoder.decoder``)."""

    def __init__(self, num_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([DecoderLayer() for _ in range(num_layers)])


def generate_anchors(
    image_size: int = 640,
    strides: tuple[int, ...] = (8, 16, 32),
    grid_size: float = 0.05,
    eps: float = 1e-2,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Default anchors (logit space) and valid mask, for a randomly initialised network.

    Cell centres, square size ``grid_size * 2**level`` and a random angle from a fixed seed,
    as the authors generate them; a loaded checkpoint replaces both buffers.
    """
    anchors = []
    for level, stride in enumerate(strides):
        n = image_size // stride
        ys, xs = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
        centre = (torch.stack([xs, ys], -1).float() + 0.5) / n
        wh = torch.full_like(centre, grid_size * 2.0**level)
        angle = torch.rand(n, n, 1, generator=torch.Generator().manual_seed(3407))
        anchors.append(torch.cat([centre, wh, angle], -1).reshape(1, n * n, 5))
    boxes = torch.cat(anchors, 1)
    valid = ((boxes[..., :4] > eps) & (boxes[..., :4] < 1 - eps)).all(-1, keepdim=True)
    logits = torch.where(valid, torch.log(boxes / (1 - boxes)), torch.full_like(boxes, math.inf))
    return logits, valid


def _proj(dim: int) -> nn.Sequential:
    return nn.Sequential(
        OrderedDict([("conv", nn.Conv2d(dim, dim, 1, bias=False)), ("norm", nn.BatchNorm2d(dim))])
    )


class RTDETRv2Decoder(nn.Module):
    """Encoder maps → ``pred_logits`` [B,300,classes] and ``pred_boxes`` [B,300,5]."""

    anchors: torch.Tensor
    valid_mask: torch.Tensor

    def __init__(
        self,
        num_classes: int = 15,
        dim: int = 256,
        num_queries: int = 300,
        num_layers: int = 6,
        levels: int = 3,
        image_size: int = 640,
    ) -> None:
        super().__init__()
        self.num_queries = num_queries
        self.input_proj = nn.ModuleList([_proj(dim) for _ in range(levels)])
        self.decoder = LayerStack(num_layers)
        self.denoising_class_embed = nn.Embedding(num_classes + 1, dim, padding_idx=num_classes)
        self.query_pos_head = MLP(5, 2 * dim, dim, 2)
        self.enc_output = nn.Sequential(
            OrderedDict([("proj", nn.Linear(dim, dim)), ("norm", nn.LayerNorm(dim))])
        )
        self.enc_score_head = nn.Linear(dim, num_classes)
        self.enc_bbox_head = MLP(dim, dim, 5, 3)
        self.dec_score_head = nn.ModuleList(
            [nn.Linear(dim, num_classes) for _ in range(num_layers)]
        )
        self.dec_bbox_head = nn.ModuleList([MLP(dim, dim, 5, 3) for _ in range(num_layers)])
        anchors, valid = generate_anchors(image_size)
        self.register_buffer("anchors", anchors)
        self.register_buffer("valid_mask", valid)

    def _select_queries(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-``num_queries`` encoder tokens by best class logit: contents and box logits."""
        masked = self.valid_mask.to(memory.dtype) * memory
        feats = self.enc_output(masked)
        logits = self.enc_score_head(feats)
        boxes = self.enc_bbox_head(feats) + self.anchors
        index = torch.topk(logits.max(-1).values, self.num_queries, dim=-1).indices
        content = feats.gather(1, index[..., None].expand(-1, -1, feats.shape[-1]))
        ref_logits = boxes.gather(1, index[..., None].expand(-1, -1, boxes.shape[-1]))
        return content, ref_logits

    def forward(self, feats: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        flat = []
        shapes: list[tuple[int, int]] = []
        for proj, f in zip(self.input_proj, feats, strict=True):
            p = proj(f)
            shapes.append((p.shape[2], p.shape[3]))
            flat.append(p.flatten(2).transpose(1, 2))
        memory = torch.cat(flat, 1)

        target, ref_logits = self._select_queries(memory)
        reference = ref_logits.sigmoid()
        layers = self.decoder.layers
        logits = boxes = reference
        for i, layer in enumerate(layers):
            pos = self.query_pos_head(reference)
            target = layer(target, reference, memory, shapes, pos)
            boxes = torch.sigmoid(self.dec_bbox_head[i](target) + inverse_sigmoid(reference))
            if i == len(layers) - 1:
                logits = self.dec_score_head[i](target)
            reference = boxes
        return {"pred_logits": logits, "pred_boxes": boxes}
