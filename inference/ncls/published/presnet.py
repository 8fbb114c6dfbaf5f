"""PResNet-50 "vd" backbone with frozen batch norm, laid out like the authors' checkpoint.

Why it looks the way it does: every attribute name below mirrors a state-dict key of the
published detector (``backbone.conv1.conv1_1.conv.weight`` ...), so their weights load with
``strict=True``. The "vd" variant has a three-convolution stem and, in the down-sampling
blocks, an average-pool shortcut; its batch norms are frozen (affine transform from stored
statistics, no ``num_batches_tracked``), as in their training config.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FrozenBatchNorm2d", "PResNet50vd"]

STAGE_BLOCKS = (3, 4, 6, 3)
STAGE_WIDTHS = (64, 128, 256, 512)
EXPANSION = 4


class FrozenBatchNorm2d(nn.Module):
    """Batch norm reduced to a per-channel affine map computed from buffers.

    Stored as buffers (not parameters) and without ``num_batches_tracked``, which is what the
    checkpoint holds for the backbone. The scale is ``weight / sqrt(var + eps)``.
    """

    weight: torch.Tensor
    bias: torch.Tensor
    running_mean: torch.Tensor
    running_var: torch.Tensor

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(channels))
        self.register_buffer("bias", torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.weight * torch.rsqrt(self.running_var + self.eps)
        shift = self.bias - self.running_mean * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]


class ConvFrozenNorm(nn.Module):
    """Bias-free convolution, frozen norm, optional ReLU ("same" padding for odd kernels)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, relu: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding=(kernel - 1) // 2, bias=False)
        self.norm = FrozenBatchNorm2d(c_out)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.conv(x))
        return F.relu(y) if self.relu else y


class PooledShortcut(nn.Module):
    """The "d" shortcut: 2×2 average pool (ceil mode) then a 1×1 projection.

    Pooling instead of a strided 1×1 convolution keeps every input pixel in the shortcut.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(2, 2, 0, ceil_mode=True)
        self.conv = ConvFrozenNorm(c_in, c_out, 1, 1, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.pool(x))


class Bottleneck(nn.Module):
    """1×1 → 3×3 (carries the stride, "b"/"d" style) → 1×1 ×4, plus shortcut, then ReLU."""

    def __init__(self, c_in: int, width: int, stride: int, first: bool) -> None:
        super().__init__()
        c_out = width * EXPANSION
        self.branch2a = ConvFrozenNorm(c_in, width, 1, 1, relu=True)
        self.branch2b = ConvFrozenNorm(width, width, 3, stride, relu=True)
        self.branch2c = ConvFrozenNorm(width, c_out, 1, 1, relu=False)
        self.short: nn.Module | None
        if not first:
            self.short = None
        elif stride == 2:
            self.short = PooledShortcut(c_in, c_out)
        else:
            self.short = ConvFrozenNorm(c_in, c_out, 1, 1, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branch2c(self.branch2b(self.branch2a(x)))
        identity = x if self.short is None else self.short(x)
        return F.relu(out + identity)


class Stage(nn.Module):
    """A run of bottlenecks; the first changes width (and stride, except in the first stage)."""

    def __init__(self, c_in: int, width: int, count: int, stride: int) -> None:
        super().__init__()
        blocks = []
        for i in range(count):
            blocks.append(Bottleneck(c_in, width, stride if i == 0 else 1, first=i == 0))
            c_in = width * EXPANSION
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class PResNet50vd(nn.Module):
    """Returns the stride-8, -16 and -32 feature maps (512, 1024, 2048 channels)."""

    out_channels = (512, 1024, 2048)

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(
            OrderedDict(
                [
                    ("conv1_1", ConvFrozenNorm(3, 32, 3, 2, relu=True)),
                    ("conv1_2", ConvFrozenNorm(32, 32, 3, 1, relu=True)),
                    ("conv1_3", ConvFrozenNorm(32, 64, 3, 1, relu=True)),
                ]
            )
        )
        stages = []
        c_in = 64
        for i, (count, width) in enumerate(zip(STAGE_BLOCKS, STAGE_WIDTHS, strict=True)):
            stages.append(Stage(c_in, width, count, stride=1 if i == 0 else 2))
            c_in = width * EXPANSION
        self.res_layers = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.max_pool2d(self.conv1(x), kernel_size=3, stride=2, padding=1)
        outs = []
        for i, stage in enumerate(self.res_layers):
            x = stage(x)
            if i >= 1:
                outs.append(x)
        return outs
