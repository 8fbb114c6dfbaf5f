"""Rotated RT-DETR: ResNet backbone, hybrid encoder, deformable decoder with top-k queries.

Boxes inside the model are ``(cx, cy, w, h, a)``: centre and size normalised by the square
input side, and the angle ``a = theta / 180°`` in half-turns, wrapped to ``[-0.5, 0.5)``
(see :mod:`inference.ncls.detection.boxes` for the convention). The angle is refined
additively and wrapped, so a box near ±90° never has to cross a discontinuity.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet
from torchvision.models._utils import IntermediateLayerGetter

from core.labels import ANATOMY_CLASSES


@dataclass(frozen=True)
class DetectorConfig:
    """Architecture of a detector; stored in every checkpoint."""

    profile: str
    backbone: str
    input_size: int
    hidden_dim: int
    num_queries: int
    num_decoder_layers: int
    num_heads: int = 8
    num_points: int = 4
    encoder_ffn_dim: int = 1024
    decoder_ffn_dim: int = 1024
    csp_blocks: int = 3
    num_classes: int = len(ANATOMY_CLASSES)
    num_denoising: int = 100
    label_noise_ratio: float = 0.5
    box_noise_scale: float = 1.0
    angle_noise_deg: float = 15.0

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form for JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectorConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``TypeError``."""
        return cls(**data)


#: ``full`` follows the paper (ResNet-50, 640², 300 queries, 6 decoder layers).
#: ``lite`` is sized for training on 2 CPU cores: a 10-layer ResNet (ResNet-18's blocks,
#: one per stage), 256² input, 128 channels, 30 queries (a frame holds ≤ 7 structures),
#: 3 decoder layers.
PROFILES: dict[str, DetectorConfig] = {
    "full": DetectorConfig(
        profile="full",
        backbone="resnet50",
        input_size=640,
        hidden_dim=256,
        num_queries=300,
        num_decoder_layers=6,
    ),
    "lite": DetectorConfig(
        profile="lite",
        backbone="resnet10",
        input_size=256,
        hidden_dim=128,
        num_queries=30,
        num_decoder_layers=3,
        num_heads=4,
        num_points=4,
        encoder_ffn_dim=256,
        decoder_ffn_dim=256,
        csp_blocks=1,
        num_denoising=30,
    ),
}


def profile_config(profile: str, **overrides: Any) -> DetectorConfig:
    """The named profile's configuration, with optional overrides (tests shrink them)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r} (allowed: {', '.join(PROFILES)})")
    return replace(PROFILES[profile], **overrides)


def inverse_sigmoid(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Logit of ``x`` clipped away from 0 and 1."""
    x = x.clamp(eps, 1 - eps)
    return torch.log(x / (1 - x))


def wrap_half_turn(a: torch.Tensor) -> torch.Tensor:
    """Wrap angles in half-turns to ``[-0.5, 0.5)``; gradient 1."""
    return a - torch.floor(a + 0.5)


class Backbone(nn.Module):
    """torchvision ResNet (never pretrained weights) returning strides 8, 16, 32."""

    def __init__(self, name: str) -> None:
        super().__init__()
        net: resnet.ResNet
        if name == "resnet50":
            net = resnet.resnet50(weights=None)
            self.channels = [512, 1024, 2048]
        elif name == "resnet18":
            net = resnet.resnet18(weights=None)
            self.channels = [128, 256, 512]
        elif name == "resnet10":
            net = resnet.ResNet(resnet.BasicBlock, [1, 1, 1, 1])
            self.channels = [128, 256, 512]
        else:
            raise ValueError(f"unknown backbone {name!r}")
        self.body = IntermediateLayerGetter(net, {"layer2": "0", "layer3": "1", "layer4": "2"})

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = self.body(x)
        return [out["0"], out["1"], out["2"]]


def conv_bn(cin: int, cout: int, k: int = 1, s: int = 1, act: bool = True) -> nn.Sequential:
    """Conv, BatchNorm and (optionally) SiLU."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.SiLU(inplace=True))
    return nn.Sequential(*layers)


class CSPBlock(nn.Module):
    """Cross-stage-partial fusion block (RT-DETR's CSPRepLayer without re-parameterisation)."""

    def __init__(self, cin: int, cout: int, blocks: int) -> None:
        super().__init__()
        self.a = conv_bn(cin, cout)
        self.b = conv_bn(cin, cout)
        self.body = nn.Sequential(*[conv_bn(cout, cout, 3) for _ in range(blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.a(x)) + self.b(x)


def sincos_2d(
    h: int, w: int, dim: int, device: torch.device, temperature: float = 10000.0
) -> torch.Tensor:
    """Fixed 2-D sine–cosine position embedding ``(h*w, dim)``."""
    gy, gx = torch.meshgrid(
        torch.arange(h, dtype=torch.float32, device=device),
        torch.arange(w, dtype=torch.float32, device=device),
        indexing="ij",
    )
    quarter = dim // 4
    omega = 1.0 / temperature ** (
        torch.arange(quarter, dtype=torch.float32, device=device) / quarter
    )
    ox = gx.flatten()[:, None] * omega[None]
    oy = gy.flatten()[:, None] * omega[None]
    return torch.cat([ox.sin(), ox.cos(), oy.sin(), oy.cos()], dim=1)


class EncoderLayer(nn.Module):
    """Post-norm transformer layer with positions added to queries and keys (AIFI)."""

    def __init__(self, dim: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm1 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn), nn.GELU(), nn.Linear(ffn, dim))
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        q = x + pos
        x = self.norm1(x + self.attn(q, q, x, need_weights=False)[0])
        return self.norm2(x + self.ffn(x))


class HybridEncoder(nn.Module):
    """Attention within the top level (AIFI) and CNN cross-scale fusion (CCFM)."""

    def __init__(self, in_channels: list[int], cfg: DetectorConfig) -> None:
        super().__init__()
        d = cfg.hidden_dim
        self.proj = nn.ModuleList([conv_bn(c, d, act=False) for c in in_channels])
        self.aifi = EncoderLayer(d, cfg.num_heads, cfg.encoder_ffn_dim)
        self.lateral = nn.ModuleList([conv_bn(d, d) for _ in range(2)])
        self.fpn = nn.ModuleList([CSPBlock(2 * d, d, cfg.csp_blocks) for _ in range(2)])
        self.down = nn.ModuleList([conv_bn(d, d, 3, 2) for _ in range(2)])
        self.pan = nn.ModuleList([CSPBlock(2 * d, d, cfg.csp_blocks) for _ in range(2)])

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        s3, s4, s5 = (p(f) for p, f in zip(self.proj, feats, strict=True))
        b, c, h, w = s5.shape
        flat = s5.flatten(2).transpose(1, 2)
        pos = sincos_2d(h, w, c, s5.device).to(flat.dtype)[None]
        s5 = self.aifi(flat, pos).transpose(1, 2).reshape(b, c, h, w)
        # top-down
        f5 = self.lateral[0](s5)
        f4 = self.fpn[0](torch.cat([F.interpolate(f5, size=s4.shape[-2:], mode="nearest"), s4], 1))
        f4l = self.lateral[1](f4)
        n3 = self.fpn[1](torch.cat([F.interpolate(f4l, size=s3.shape[-2:], mode="nearest"), s3], 1))
        # bottom-up
        n4 = self.pan[0](torch.cat([self.down[0](n3), f4l], 1))
        n5 = self.pan[1](torch.cat([self.down[1](n4), f5], 1))
        return [n3, n4, n5]


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


def box_embedding_input(ref: torch.Tensor) -> torch.Tensor:
    """Features of a reference box for the query position MLP (angle as sin/cos of 2πa)."""
    a = ref[..., 4] * 2.0 * math.pi
    return torch.cat([ref[..., :4], a.sin()[..., None], a.cos()[..., None]], -1)


def refine(ref: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """Apply a predicted delta to a reference box (logit space for size, wrap for angle)."""
    xywh = torch.sigmoid(inverse_sigmoid(ref[..., :4]) + delta[..., :4])
    a = wrap_half_turn(ref[..., 4:] + delta[..., 4:])
    return torch.cat([xywh, a], -1)


class RotatedRTDETR(nn.Module):
    """The detector; ``forward`` returns a dict of predictions (and denoising metadata)."""

    def __init__(self, cfg: DetectorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, c = cfg.hidden_dim, cfg.num_classes
        self.backbone = Backbone(cfg.backbone)
        self.encoder = HybridEncoder(self.backbone.channels, cfg)
        self.enc_output = nn.Sequential(nn.Linear(d, d), nn.LayerNorm(d))
        self.enc_score = nn.Linear(d, c)
        self.enc_box = MLP(d, d, 5, 3)
        self.query_pos = MLP(6, 2 * d, d, 2)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_decoder_layers))
        self.score_heads = nn.ModuleList(nn.Linear(d, c) for _ in range(cfg.num_decoder_layers))
        self.box_heads = nn.ModuleList(MLP(d, d, 5, 3) for _ in range(cfg.num_decoder_layers))
        self.denoise_embed = nn.Embedding(c + 1, d)
        prior = -math.log((1 - 0.01) / 0.01)
        for head in [self.enc_score, *self.score_heads]:
            nn.init.constant_(head.bias, prior)
        for mlp in [self.enc_box, *self.box_heads]:
            last = mlp.layers[-1]
            assert isinstance(last, nn.Linear)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        self.pixel_mean: torch.Tensor
        self.pixel_std: torch.Tensor
        self.register_buffer("pixel_mean", mean, persistent=False)
        self.register_buffer("pixel_std", std, persistent=False)

    def _anchors(
        self, shapes: list[tuple[int, int]], device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        anchors = []
        for lvl, (h, w) in enumerate(shapes):
            gy, gx = torch.meshgrid(
                torch.arange(h, device=device, dtype=torch.float32),
                torch.arange(w, device=device, dtype=torch.float32),
                indexing="ij",
            )
            xy = torch.stack([(gx + 0.5) / w, (gy + 0.5) / h], -1).view(-1, 2)
            wh = torch.full_like(xy, 0.05 * 2.0**lvl)
            anchors.append(torch.cat([xy, wh], -1))
        anc = torch.cat(anchors)
        valid = ((anc > 0.01) & (anc < 0.99)).all(-1, keepdim=True)
        return inverse_sigmoid(anc).masked_fill(~valid, 0.0), valid

    def forward(
        self, images: torch.Tensor, targets: list[dict[str, torch.Tensor]] | None = None
    ) -> dict[str, Any]:
        """``images``: ``(B, 3, S, S)`` in [0, 1]. ``targets`` (training): per image
        ``labels (N,)`` and ``boxes (N, 5)`` normalised as the model's output."""
        cfg = self.cfg
        x = (images - self.pixel_mean) / self.pixel_std
        feats = self.encoder(self.backbone(x))
        shapes = [(int(f.shape[2]), int(f.shape[3])) for f in feats]
        memory = torch.cat([f.flatten(2).transpose(1, 2) for f in feats], 1)
        b = memory.shape[0]
        anchors, valid = self._anchors(shapes, memory.device)
        out_mem = self.enc_output(memory * valid.to(memory.dtype))
        enc_logits = self.enc_score(out_mem)
        enc_delta = self.enc_box(out_mem).float()  # boxes stay float32 under autocast
        enc_xywh = enc_delta[..., :4] + anchors
        enc_a = wrap_half_turn(enc_delta[..., 4:])
        k = min(cfg.num_queries, memory.shape[1])
        scores = enc_logits.max(-1).values.masked_fill(~valid[None, :, 0], -1e4)
        topk = scores.topk(k, dim=1).indices
        idx5 = topk[..., None].expand(-1, -1, 5)
        enc_boxes_all = torch.cat([torch.sigmoid(enc_xywh), enc_a], -1)
        enc_top_boxes = torch.gather(enc_boxes_all, 1, idx5)
        enc_top_logits = torch.gather(
            enc_logits.float(), 1, topk[..., None].expand(-1, -1, enc_logits.shape[-1])
        )
        tgt = torch.gather(out_mem, 1, topk[..., None].expand(-1, -1, out_mem.shape[-1])).detach()
        ref = enc_top_boxes.detach()
        dn_meta: dict[str, Any] | None = None
        mask = None
        if self.training and targets is not None and cfg.num_denoising > 0:
            dn = self._denoising_queries(targets, k, memory.device)
            if dn is not None:
                dn_tgt, dn_ref, mask, dn_meta = dn
                tgt = torch.cat([dn_tgt.to(tgt.dtype), tgt], 1)
                ref = torch.cat([dn_ref.to(ref.dtype), ref], 1)
        all_logits, all_boxes = [], []
        for layer, score_head, box_head in zip(
            self.layers, self.score_heads, self.box_heads, strict=True
        ):
            pos = self.query_pos(box_embedding_input(ref).to(tgt.dtype))
            tgt = layer(tgt, pos, ref, memory, shapes, mask)
            boxes = refine(ref, box_head(tgt).float())
            all_logits.append(score_head(tgt).float())
            all_boxes.append(boxes)
            ref = boxes.detach()
        logits = torch.stack(all_logits)
        boxes_t = torch.stack(all_boxes)
        out: dict[str, Any] = {}
        if dn_meta is not None:
            n_dn = dn_meta["num_dn"]
            out["dn_logits"], logits = logits[:, :, :n_dn], logits[:, :, n_dn:]
            out["dn_boxes"], boxes_t = boxes_t[:, :, :n_dn], boxes_t[:, :, n_dn:]
            out["dn_meta"] = dn_meta
        out.update(
            logits=logits[-1],
            boxes=boxes_t[-1],
            aux_logits=logits[:-1],
            aux_boxes=boxes_t[:-1],
            enc_logits=enc_top_logits.float(),
            enc_boxes=enc_top_boxes.float(),
        )
        del b
        return out

    def _denoising_queries(
        self, targets: list[dict[str, torch.Tensor]], num_queries: int, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]] | None:
        """Noised ground truth as extra queries: positives (small noise, must reconstruct the
        box) and negatives (large noise, must be rejected), with label, box and angle noise."""
        cfg = self.cfg
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
                    lab = t["labels"].clone()
                    flip = torch.rand(n, device=device) < cfg.label_noise_ratio * 0.5
                    lab[flip] = torch.randint(0, cfg.num_classes, (int(flip.sum()),), device=device)
                    bx = t["boxes"].clone().float()
                    mag = torch.rand(n, 5, device=device) + (1.0 if neg else 0.0)
                    sign = torch.randint(0, 2, (n, 5), device=device) * 2.0 - 1.0
                    noise = sign * mag
                    scale = cfg.box_noise_scale
                    bx[:, 0] = bx[:, 0] + noise[:, 0] * bx[:, 2] * 0.5 * scale * 0.5
                    bx[:, 1] = bx[:, 1] + noise[:, 1] * bx[:, 3] * 0.5 * scale * 0.5
                    bx[:, 2] = bx[:, 2] * (1.0 + noise[:, 2] * 0.5 * scale * 0.5)
                    bx[:, 3] = bx[:, 3] * (1.0 + noise[:, 3] * 0.5 * scale * 0.5)
                    bx[:, 4] = wrap_half_turn(bx[:, 4] + noise[:, 4] * cfg.angle_noise_deg / 180.0)
                    bx[:, :4] = bx[:, :4].clamp(1e-3, 1 - 1e-3)
                    labels[i, off : off + n] = lab
                    boxes[i, off : off + n] = bx
            pos_index.append(torch.cat(slots))
        tgt = self.denoise_embed(labels)
        size = total + num_queries
        mask = torch.zeros((size, size), dtype=torch.bool, device=device)
        mask[total:, :total] = True  # matching queries never see the ground truth
        for g in range(groups):
            lo, hi = g * per_group, (g + 1) * per_group
            mask[lo:hi, :lo] = True
            mask[lo:hi, hi:total] = True
        meta = {"num_dn": total, "groups": groups, "pos_index": pos_index, "counts": counts}
        return tgt, boxes, mask, meta


def postprocess(
    logits: torch.Tensor, boxes: torch.Tensor, top: int | None = None
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per image: (scores, labels, boxes) of the best (query, class) pairs, boxes still
    normalised; angle returned in degrees in the canonical range."""
    probs = logits.sigmoid()
    b, q, c = probs.shape
    top = min(top or q, q * c)
    out = []
    for i in range(b):
        s, idx = probs[i].flatten().topk(top)
        qi, li = idx // c, idx % c
        bx = boxes[i, qi].clone()
        bx[:, 4] = bx[:, 4] * 180.0
        out.append((s, li, bx))
    return out


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
