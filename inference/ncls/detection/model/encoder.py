"""RT-DETR's hybrid encoder: attention within the top level, CNN fusion across levels."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from inference.ncls.detection.model.config import DetectorConfig


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
