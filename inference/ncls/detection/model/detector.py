"""The assembled rotated RT-DETR, its post-processing and parameter count."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from inference.ncls.detection.model.backbone import Backbone
from inference.ncls.detection.model.box_coding import (
    box_embedding_input,
    inverse_sigmoid,
    refine,
    wrap_half_turn,
)
from inference.ncls.detection.model.config import DetectorConfig
from inference.ncls.detection.model.decoder import MLP, DecoderLayer
from inference.ncls.detection.model.denoising import DenoisingQueries, denoising_queries
from inference.ncls.detection.model.encoder import HybridEncoder


@dataclass(frozen=True)
class _Proposals:
    """The encoder's top-k positions: decoder queries, their boxes and encoder logits."""

    tgt: torch.Tensor  # (B, K, D), detached
    ref: torch.Tensor  # (B, K, 5), detached
    logits: torch.Tensor  # (B, K, C), for the encoder loss
    boxes: torch.Tensor  # (B, K, 5), for the encoder loss


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
        """Anchor boxes (logit space) at every position of every level, and which are valid."""
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
        proposals = self._proposals(memory, shapes)
        tgt, ref = proposals.tgt, proposals.ref
        dn: DenoisingQueries | None = None
        if self.training and targets is not None and cfg.num_denoising > 0:
            dn = denoising_queries(
                cfg, self.denoise_embed, targets, proposals.tgt.shape[1], memory.device
            )
            if dn is not None:
                tgt = torch.cat([dn.tgt.to(tgt.dtype), tgt], 1)
                ref = torch.cat([dn.ref.to(ref.dtype), ref], 1)
        logits, boxes_t = self._decode(
            tgt, ref, memory, shapes, dn.mask if dn is not None else None
        )
        out: dict[str, Any] = {}
        if dn is not None:
            n_dn = dn.meta["num_dn"]
            out["dn_logits"], logits = logits[:, :, :n_dn], logits[:, :, n_dn:]
            out["dn_boxes"], boxes_t = boxes_t[:, :, :n_dn], boxes_t[:, :, n_dn:]
            out["dn_meta"] = dn.meta
        out.update(
            logits=logits[-1],
            boxes=boxes_t[-1],
            aux_logits=logits[:-1],
            aux_boxes=boxes_t[:-1],
            enc_logits=proposals.logits.float(),
            enc_boxes=proposals.boxes.float(),
        )
        return out

    def _proposals(self, memory: torch.Tensor, shapes: list[tuple[int, int]]) -> _Proposals:
        """The encoder's top-k scoring positions as the decoder's initial queries and boxes."""
        anchors, valid = self._anchors(shapes, memory.device)
        out_mem = self.enc_output(memory * valid.to(memory.dtype))
        enc_logits = self.enc_score(out_mem)
        enc_delta = self.enc_box(out_mem).float()  # boxes stay float32 under autocast
        enc_xywh = enc_delta[..., :4] + anchors
        enc_a = wrap_half_turn(enc_delta[..., 4:])
        k = min(self.cfg.num_queries, memory.shape[1])
        scores = enc_logits.max(-1).values.masked_fill(~valid[None, :, 0], -1e4)
        topk = scores.topk(k, dim=1).indices
        idx5 = topk[..., None].expand(-1, -1, 5)
        enc_boxes_all = torch.cat([torch.sigmoid(enc_xywh), enc_a], -1)
        enc_top_boxes = torch.gather(enc_boxes_all, 1, idx5)
        enc_top_logits = torch.gather(
            enc_logits.float(), 1, topk[..., None].expand(-1, -1, enc_logits.shape[-1])
        )
        tgt = torch.gather(out_mem, 1, topk[..., None].expand(-1, -1, out_mem.shape[-1])).detach()
        return _Proposals(
            tgt=tgt, ref=enc_top_boxes.detach(), logits=enc_top_logits, boxes=enc_top_boxes
        )

    def _decode(
        self,
        tgt: torch.Tensor,
        ref: torch.Tensor,
        memory: torch.Tensor,
        shapes: list[tuple[int, int]],
        mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the decoder layers, refining the boxes at each; logits and boxes per layer."""
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
        return torch.stack(all_logits), torch.stack(all_boxes)


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
