"""RT-DETR hybrid encoder: one attention layer on the stride-32 map, then an FPN/PAN neck.

Why attention only at stride 32: that map is 20×20 at 640 px, so full self-attention over it
is cheap while the finer levels are fused by convolutions. Attribute names mirror the authors'
checkpoint keys (``encoder.fpn_blocks.0.bottlenecks.0.conv1.conv.weight`` ...). The neck's
batch norms are ordinary ``BatchNorm2d`` (their checkpoint stores ``num_batches_tracked``
for them), used in eval mode with the stored statistics.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["HybridEncoder", "sincos_position_embedding"]


class ConvBNAct(nn.Module):
    """Bias-free convolution, batch norm, optional SiLU (the neck's activation)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, silu: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding=(kernel - 1) // 2, bias=False)
        self.norm = nn.BatchNorm2d(c_out)
        self.silu = silu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.conv(x))
        return F.silu(y) if self.silu else y


class RepVggBlock(nn.Module):
    """3×3 and 1×1 conv-norm branches summed, then SiLU (kept unfused, as trained)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = ConvBNAct(channels, channels, 3, 1, silu=False)
        self.conv2 = ConvBNAct(channels, channels, 1, 1, silu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.silu(self.conv1(x) + self.conv2(x))


class CSPRepLayer(nn.Module):
    """Cross-stage partial block: two 1×1 paths, one through three RepVGG blocks, summed.

    With expansion 1.0 the hidden width equals the output width, so there is no third
    projection (the checkpoint has no ``conv3``).
    """

    def __init__(self, c_in: int, c_out: int, blocks: int = 3) -> None:
        super().__init__()
        self.conv1 = ConvBNAct(c_in, c_out, 1, 1, silu=True)
        self.conv2 = ConvBNAct(c_in, c_out, 1, 1, silu=True)
        self.bottlenecks = nn.Sequential(*[RepVggBlock(c_out) for _ in range(blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bottlenecks(self.conv1(x)) + self.conv2(x)


class EncoderLayer(nn.Module):
    """Post-norm transformer layer (self-attention with position added to q and k; GELU FFN)."""

    def __init__(self, dim: int = 256, heads: int = 8, ffn: int = 1024) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=0.0, batch_first=True)
        self.linear1 = nn.Linear(dim, ffn)
        self.linear2 = nn.Linear(ffn, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, src: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        qk = src + pos
        attended = self.self_attn(qk, qk, src, need_weights=False)[0]
        src = self.norm1(src + attended)
        return self.norm2(src + self.linear2(F.gelu(self.linear1(src))))


class TransformerEncoder(nn.Module):
    """A stack of encoder layers (one, in the published model) under ``.layers``."""

    def __init__(self, num_layers: int = 1) -> None:
        super().__init__()
        self.layers = nn.ModuleList([EncoderLayer() for _ in range(num_layers)])

    def forward(self, src: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            src = layer(src, pos)
        return src


def sincos_position_embedding(
    height: int, width: int, dim: int = 256, temperature: float = 10000.0
) -> torch.Tensor:
    """Fixed 2-D sine-cosine embedding, ``[1, height*width, dim]`` for row-major tokens.

    Channel quarters are sin/cos of the first grid coordinate, then sin/cos of the second,
    at frequencies ``temperature ** -(k / (dim/4))``. The authors enumerate their grid as
    (width index, height index) with the height index varying fastest; for the square maps
    used here (20×20 at 640 px) that means the first coordinate is the token's row and the
    second its column, which is what this builds. Non-square maps are rejected rather than
    guessed.
    """
    if height != width:
        raise ValueError(f"the published encoder only runs on square maps, got {height}x{width}")
    if dim % 4:
        raise ValueError("embedding dimension must be a multiple of 4")
    quarter = dim // 4
    omega = 1.0 / (temperature ** (torch.arange(quarter, dtype=torch.float32) / quarter))
    rows, cols = torch.meshgrid(
        torch.arange(height, dtype=torch.float32),
        torch.arange(width, dtype=torch.float32),
        indexing="ij",
    )
    first = rows.reshape(-1, 1) * omega[None]
    second = cols.reshape(-1, 1) * omega[None]
    return torch.cat([first.sin(), first.cos(), second.sin(), second.cos()], dim=1)[None]


def _proj(c_in: int, dim: int) -> nn.Sequential:
    return nn.Sequential(
        OrderedDict([("conv", nn.Conv2d(c_in, dim, 1, bias=False)), ("norm", nn.BatchNorm2d(dim))])
    )


class HybridEncoder(nn.Module):
    """Backbone maps (strides 8/16/32) → three 256-channel maps at the same strides."""

    def __init__(self, in_channels: tuple[int, ...] = (512, 1024, 2048), dim: int = 256) -> None:
        super().__init__()
        self.dim = dim
        levels = len(in_channels)
        self.input_proj = nn.ModuleList([_proj(c, dim) for c in in_channels])
        # attention runs on the coarsest level only
        self.encoder = nn.ModuleList([TransformerEncoder(1)])
        self.lateral_convs = nn.ModuleList(
            [ConvBNAct(dim, dim, 1, 1, silu=True) for _ in range(levels - 1)]
        )
        self.fpn_blocks = nn.ModuleList([CSPRepLayer(2 * dim, dim) for _ in range(levels - 1)])
        self.downsample_convs = nn.ModuleList(
            [ConvBNAct(dim, dim, 3, 2, silu=True) for _ in range(levels - 1)]
        )
        self.pan_blocks = nn.ModuleList([CSPRepLayer(2 * dim, dim) for _ in range(levels - 1)])

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        maps = [proj(f) for proj, f in zip(self.input_proj, feats, strict=True)]
        top = maps[-1]
        b, c, h, w = top.shape
        tokens = top.flatten(2).transpose(1, 2)
        pos = sincos_position_embedding(h, w, c).to(tokens.device, tokens.dtype)
        memory = self.encoder[0](tokens, pos)
        maps[-1] = memory.transpose(1, 2).reshape(b, c, h, w).contiguous()

        # top-down: each coarser map is laterally projected, upsampled and fused with the finer
        # one; the projected (not the fused) coarse map is what the bottom-up path reuses
        lateral: list[torch.Tensor] = []
        fused = maps[-1]
        for k, level in enumerate(range(len(maps) - 1, 0, -1)):
            projected = self.lateral_convs[k](fused)
            lateral.insert(0, projected)
            upsampled = F.interpolate(projected, scale_factor=2.0, mode="nearest")
            fused = self.fpn_blocks[k](torch.cat([upsampled, maps[level - 1]], dim=1))

        # bottom-up
        outs = [fused]
        for k in range(len(maps) - 1):
            down = self.downsample_convs[k](outs[-1])
            outs.append(self.pan_blocks[k](torch.cat([down, lateral[k]], dim=1)))
        return outs
