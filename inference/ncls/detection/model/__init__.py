"""Rotated RT-DETR: ResNet backbone, hybrid encoder, deformable decoder with top-k queries.

Boxes inside the model are ``(cx, cy, w, h, a)``: centre and size normalised by the square
input side, and the angle ``a = theta / 180°`` in half-turns, wrapped to ``[-0.5, 0.5)``
(see :mod:`inference.ncls.detection.boxes` for the convention). The angle is refined
additively and wrapped, so a box near ±90° never has to cross a discontinuity.

Modules: :mod:`.config` (architecture and profiles), :mod:`.box_coding` (the box
parameterisation), :mod:`.backbone`, :mod:`.encoder`, :mod:`.decoder`, :mod:`.denoising`
(training queries from noised ground truth), :mod:`.detector` (assembly, post-processing).
"""

from inference.ncls.detection.model.backbone import Backbone
from inference.ncls.detection.model.box_coding import (
    box_embedding_input,
    inverse_sigmoid,
    refine,
    wrap_half_turn,
)
from inference.ncls.detection.model.config import PROFILES, DetectorConfig, profile_config
from inference.ncls.detection.model.decoder import MLP, DecoderLayer, RotatedDeformableAttention
from inference.ncls.detection.model.detector import RotatedRTDETR, count_parameters, postprocess
from inference.ncls.detection.model.encoder import (
    CSPBlock,
    EncoderLayer,
    HybridEncoder,
    conv_bn,
    sincos_2d,
)

__all__ = [
    "MLP",
    "PROFILES",
    "Backbone",
    "CSPBlock",
    "DecoderLayer",
    "DetectorConfig",
    "EncoderLayer",
    "HybridEncoder",
    "RotatedDeformableAttention",
    "RotatedRTDETR",
    "box_embedding_input",
    "conv_bn",
    "count_parameters",
    "inverse_sigmoid",
    "postprocess",
    "profile_config",
    "refine",
    "sincos_2d",
    "wrap_half_turn",
]
