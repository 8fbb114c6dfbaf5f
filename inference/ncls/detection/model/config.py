"""The detector's architecture settings and the two named profiles (full, lite)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

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
