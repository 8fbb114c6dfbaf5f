"""The NCLS stage-2 network: per-view backbone, image head, view attention, case head.

Profiles
--------
``full``
    torchvision ConvNeXt-Tiny (``weights=None``: nothing is ever downloaded), 256×256
    input, as in DESIGN.md.
``lite``
    A small ResNet-style backbone (3×3 stride-2 stem, four stages of one basic block,
    widths 16/32/64/128, BatchNorm; 0.38 M parameters in all), 64×64 input, so that five
    folds train on two CPU cores in minutes. A ConvNeXt scaled down to the same budget
    (``backbone="convnext"`` with ``widths``/``depths``, still supported) was 7× slower per
    step on CPU (depth-wise 7×7 convolutions, LayerNorm permutes) and, trained from scratch
    on 240 phantom cases for 12 epochs, reached a validation AUC of only 0.64 on one fold,
    against 1.00 out of fold for this ResNet after 20 epochs: BatchNorm learns fast from
    scratch where a LayerNorm-only ConvNeXt needs long schedules.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torchvision.models import convnext_tiny
from torchvision.models.convnext import CNBlockConfig, ConvNeXt

from core.labels import IMAGE_LABELS, View

#: View slots, in the order the model sees them (a case has up to six views).
VIEW_SLOTS: tuple[View, ...] = tuple(View)
NUM_SLOTS = len(VIEW_SLOTS)
NUM_IMAGE_LABELS = len(IMAGE_LABELS)
#: Pixel normalisation applied after scaling to [0, 1] (grey ultrasound, no ImageNet prior).
PIXEL_MEAN = 0.5
PIXEL_STD = 0.25


@dataclass(frozen=True)
class Architecture:
    """Everything needed to rebuild a diagnosis network; stored in each checkpoint's JSON."""

    profile: str
    image_size: int
    widths: tuple[int, ...] = ()
    depths: tuple[int, ...] = ()
    attention_heads: int = 8
    layer_scale: float = 1e-6
    backbone: str = "convnext"
    image_labels: tuple[str, ...] = field(
        default_factory=lambda: tuple(str(c) for c in IMAGE_LABELS)
    )
    views: tuple[str, ...] = field(default_factory=lambda: tuple(str(v) for v in VIEW_SLOTS))

    @property
    def feature_dim(self) -> int:
        """Width of one view's feature vector (the backbone's last stage)."""
        return 768 if self.profile == "full" else self.widths[-1]

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable description."""
        data = asdict(self)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Architecture:
        """Inverse of :meth:`to_json`; raise ``ValueError`` on an unknown profile."""
        if data.get("profile") not in PROFILES:
            raise ValueError(f"unknown diagnosis profile {data.get('profile')!r}")
        return cls(
            profile=data["profile"],
            image_size=int(data["image_size"]),
            widths=tuple(data.get("widths", ())),
            depths=tuple(data.get("depths", ())),
            attention_heads=int(data.get("attention_heads", 8)),
            layer_scale=float(data.get("layer_scale", 1e-6)),
            backbone=str(data.get("backbone", "convnext")),
            image_labels=tuple(data.get("image_labels", ())),
            views=tuple(data.get("views", ())),
        )


PROFILES: dict[str, Architecture] = {
    "full": Architecture(profile="full", image_size=256),
    "lite": Architecture(
        profile="lite",
        image_size=64,
        widths=(16, 32, 64, 128),
        depths=(1, 1, 1, 1),
        backbone="resnet_lite",
    ),
}


def architecture_for(profile: str, image_size: int | None = None) -> Architecture:
    """The architecture of a profile, optionally at another input size."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    base = PROFILES[profile]
    if image_size is None:
        return base
    if image_size < 32 or image_size % 32:
        raise ValueError(f"image size must be a multiple of 32 and at least 32, got {image_size}")
    return Architecture(
        profile=base.profile,
        image_size=image_size,
        widths=base.widths,
        depths=base.depths,
        attention_heads=base.attention_heads,
        layer_scale=base.layer_scale,
        backbone=base.backbone,
    )


class BasicBlock(nn.Module):
    """ResNet basic block (two 3×3 convolutions with BatchNorm) with a strided shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.shortcut = (
            nn.Identity()
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual block."""
        return self.relu(self.body(x) + self.shortcut(x))


def resnet_lite(widths: tuple[int, ...], depths: tuple[int, ...]) -> nn.Sequential:
    """A small ResNet: 3×3 stride-2 stem, then one stride-2 stage per width."""
    layers: list[nn.Module] = [
        nn.Sequential(
            nn.Conv2d(3, widths[0], 3, 2, 1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
    ]
    cin = widths[0]
    for width, depth in zip(widths, depths, strict=True):
        blocks = [
            BasicBlock(cin if i == 0 else width, width, 2 if i == 0 else 1) for i in range(depth)
        ]
        layers.append(nn.Sequential(*blocks))
        cin = width
    return nn.Sequential(*layers)


class ViewEncoder(nn.Module):
    """Backbone of one view image: ConvNeXt stages, global average pool, LayerNorm."""

    def __init__(self, architecture: Architecture) -> None:
        super().__init__()
        if architecture.backbone == "resnet_lite":
            self.features: nn.Module = resnet_lite(architecture.widths, architecture.depths)
            self.pool: nn.Module = nn.AdaptiveAvgPool2d(1)
            self.norm: nn.Module = nn.Identity()
            return
        if architecture.profile == "full":
            network = convnext_tiny(weights=None)
        else:
            widths, depths = architecture.widths, architecture.depths
            settings = [
                CNBlockConfig(width, widths[i + 1] if i + 1 < len(widths) else None, depth)
                for i, (width, depth) in enumerate(zip(widths, depths, strict=True))
            ]
            network = ConvNeXt(
                settings, stochastic_depth_prob=0.0, layer_scale=architecture.layer_scale
            )
        self.features = network.features
        self.pool = network.avgpool
        # torchvision's classifier starts with LayerNorm2d then Flatten; keep those two.
        self.norm = network.classifier[0]

    @property
    def stages(self) -> list[nn.Module]:
        """The backbone's stages, stem and downsampling layers left out (resnet_lite: four,
        at 1/4 … 1/32 of the input; ConvNeXt: four, 1/4 … 1/32)."""
        features = self.features
        assert isinstance(features, nn.Sequential)
        layers = list(features)
        return layers[1:] if isinstance(self.norm, nn.Identity) else layers[1::2]

    @property
    def last_stage(self) -> nn.Module:
        """The backbone's last stage (1/32 of the input: 2×2 at the lite profile's 64×64)."""
        return self.stages[-1]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``images`` N×3×S×S → N×D features."""
        return torch.flatten(self.norm(self.pool(self.features(images))), 1)


class DiagnosisNet(nn.Module):
    """Multi-view case classifier of DESIGN.md (NCLS stage 2).

    ``forward(images, mask)`` takes B×6×3×S×S view images in :data:`VIEW_SLOTS` order and a
    B×6 boolean mask of the views present. It returns B×6×L image-label logits and B×2
    case logits (index 1 = severe). Absent views are zeroed after the backbone and masked
    out of attention, so they cannot change the case output.
    """

    def __init__(self, architecture: Architecture) -> None:
        super().__init__()
        self.architecture = architecture
        dim = architecture.feature_dim
        self.encoder = ViewEncoder(architecture)
        self.image_head = nn.Linear(dim, len(architecture.image_labels))
        self.view_embedding = nn.Parameter(torch.zeros(1, NUM_SLOTS, dim))
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.view_embedding, std=0.02)
        nn.init.trunc_normal_(self.class_token, std=0.02)
        self.attention = nn.MultiheadAttention(dim, architecture.attention_heads, batch_first=True)
        self.attention_norm = nn.LayerNorm(dim)
        self.case_head = nn.Linear(dim, 2)

    def image_logits(self, images: torch.Tensor) -> torch.Tensor:
        """Image-head logits of single view images (N×3×S×S → N×L); used by Finer-CAM."""
        return self.image_head(self.encoder(images))

    def forward(
        self, images: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (image logits B×6×L, case logits B×2)."""
        batch, slots = images.shape[:2]
        if self.training:
            # Only present views reach the backbone, so padding never enters BatchNorm statistics.
            encoded = self.encoder(images[mask])
            features = encoded.new_zeros(batch, slots, encoded.shape[-1])
            features[mask] = encoded
        else:
            # One static path for inference and ONNX export; padded slots are zeroed below.
            features = self.encoder(images.flatten(0, 1)).view(batch, slots, -1)
        present = mask.to(features.dtype).unsqueeze(-1)
        features = features * present
        image_logits = self.image_head(features)
        tokens = torch.cat(
            [self.class_token.expand(batch, -1, -1), features + self.view_embedding * present],
            dim=1,
        )
        # The class token is always a valid key, so no query ever attends to nothing.
        ignore = torch.cat([torch.zeros_like(mask[:, :1]), ~mask], dim=1)
        attended, _ = self.attention(
            tokens, tokens, tokens, key_padding_mask=ignore, need_weights=False
        )
        case_token = self.attention_norm(tokens[:, 0] + attended[:, 0])
        return image_logits, self.case_head(case_token)


class ProbabilityNet(nn.Module):
    """A :class:`DiagnosisNet` that returns probabilities (for export and inference)."""

    def __init__(self, net: DiagnosisNet) -> None:
        super().__init__()
        self.net = net

    def forward(
        self, images: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (image-label probabilities B×6×L, severe probability B)."""
        image_logits, case_logits = self.net(images, mask)
        return torch.sigmoid(image_logits), torch.softmax(case_logits, dim=-1)[:, 1]


class ImageLabelNet(nn.Module):
    """One view image → image-label logits: the per-image classifier Finer-CAM explains."""

    def __init__(self, net: DiagnosisNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """N×3×S×S → N×L logits."""
        return self.net.image_logits(images)


def count_parameters(module: nn.Module) -> int:
    """Number of parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())
