"""The authors' published RT-DETRv2 view detector: network, input transform, post-processing.

Why a second detector next to ``inference.ncls.detection``: this one reproduces the NCLS
authors' network *exactly* (state-dict layout, arithmetic, pre- and post-processing) so their
published checkpoint loads unchanged with ``strict=True`` and gives their numbers. Parity is
proven without the weights by the golden outputs in ``/work/shared/published_ncls`` (see
``tests/inference/test_published_detector.py``).

Pipeline: ``detector_input`` (BGR frame → RGB, PIL bilinear resize to 640×640, [0, 1]) →
``PublishedDetector`` (eval mode) → ``postprocess`` (sigmoid, top 300 over queries × classes,
corners in frame pixels, angle appended as the network produced it: a sigmoid output in
(0, 1), not rescaled).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from .hybrid_encoder import HybridEncoder
from .presnet import PResNet50vd
from .rtdetr_decoder import RTDETRv2Decoder
from .weight_rule import golden_weights

__all__ = [
    "ANATOMY_CLASSES",
    "INPUT_SIZE",
    "NUM_CLASSES",
    "NUM_QUERIES",
    "SCORE_THRESHOLD",
    "PublishedDetector",
    "build_detector",
    "detector_input",
    "golden_weights",
    "postprocess",
]

INPUT_SIZE = 640
NUM_CLASSES = 15
NUM_QUERIES = 300
SCORE_THRESHOLD = 0.6
# indices 0-9; 10-14 exist in the heads but were never trained on
ANATOMY_CLASSES = (
    "coronal corpus callosum",
    "coronal anterior horn",
    "coronal third ventricle",
    "coronal lateral ventricle",
    "coronal thalamus/basal ganglia",
    "sagittal corpus callosum",
    "sagittal trigone area",
    "sagittal lateral ventricle",
    "sagittal cerebellum",
    "sagittal thalamus/basal ganglia",
)


class PublishedDetector(nn.Module):
    """Backbone → hybrid encoder → decoder; ``forward`` returns the raw head outputs.

    Inference only: the decoder implements the eval-mode path (no denoising queries, last
    layer's heads only), which is all the published pipeline uses.
    """

    def __init__(self, num_classes: int = NUM_CLASSES, num_queries: int = NUM_QUERIES) -> None:
        super().__init__()
        self.backbone = PResNet50vd()
        self.encoder = HybridEncoder(PResNet50vd.out_channels)
        self.decoder = RTDETRv2Decoder(num_classes, num_queries=num_queries)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        if images.ndim != 4 or images.shape[1:] != (3, INPUT_SIZE, INPUT_SIZE):
            raise ValueError(
                f"expected images of shape [B, 3, {INPUT_SIZE}, {INPUT_SIZE}], "
                f"got {list(images.shape)}"
            )
        return self.decoder(self.encoder(self.backbone(images)))


def build_detector() -> PublishedDetector:
    """A randomly initialised detector in eval mode (load the published weights into it)."""
    return PublishedDetector().eval()


def detector_input(frame_bgr: np.ndarray) -> torch.Tensor:
    """One decoded BGR frame → ``[3, 640, 640]`` float32 in [0, 1], as the authors feed it.

    Their transform is torchvision's ``Resize((640, 640))`` on a PIL image followed by
    ``ToTensor``; on PIL images ``Resize`` delegates to PIL's bilinear resampling (which
    antialiases when shrinking), so PIL is called directly to get the same pixels. No
    normalisation: the network was trained on [0, 1] inputs.
    """
    if not isinstance(frame_bgr, np.ndarray):
        raise ValueError(f"frame must be a numpy array, got {type(frame_bgr).__name__}")
    if frame_bgr.dtype != np.uint8:
        raise ValueError(f"frame must be uint8, got {frame_bgr.dtype}")
    if frame_bgr.ndim != 3:
        raise ValueError(f"frame must be [H, W, 3], got {frame_bgr.ndim} dimensions")
    if frame_bgr.shape[2] != 3:
        raise ValueError(f"frame must have 3 (BGR) channels, got {frame_bgr.shape[2]}")
    if frame_bgr.shape[0] == 0 or frame_bgr.shape[1] == 0:
        raise ValueError(f"frame is empty: {frame_bgr.shape}")
    rgb = np.ascontiguousarray(frame_bgr[:, :, ::-1])
    resized = Image.fromarray(rgb).resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
    pixels = torch.from_numpy(np.asarray(resized).copy())
    return pixels.permute(2, 0, 1).to(torch.float32).div(255)


def postprocess(
    outputs: Mapping[str, torch.Tensor],
    sizes_wh: Sequence[tuple[int, int]] | torch.Tensor,
    top_k: int = NUM_QUERIES,
) -> list[dict[str, torch.Tensor]]:
    """Raw outputs → per image ``labels`` [k], ``scores`` [k], ``boxes`` [k, 5].

    Focal-loss style scoring: every (query, class) pair is a candidate with score
    sigmoid(logit); the best ``top_k`` over all pairs are kept, so one query can appear under
    several classes. Boxes become corners ``x1, y1, x2, y2`` in the original frame's pixels
    (``sizes_wh`` holds each frame's width and height), with the angle appended unchanged.
    """
    logits, boxes = outputs["pred_logits"], outputs["pred_boxes"]
    if logits.ndim != 3 or boxes.ndim != 3 or boxes.shape[-1] != 5:
        raise ValueError("expected pred_logits [B, Q, C] and pred_boxes [B, Q, 5]")
    sizes = torch.as_tensor(sizes_wh, dtype=boxes.dtype, device=boxes.device).reshape(-1, 2)
    if sizes.shape[0] != boxes.shape[0]:
        raise ValueError(f"{sizes.shape[0]} frame sizes for a batch of {boxes.shape[0]}")
    num_classes = logits.shape[-1]

    cx, cy, w, h, angle = boxes.unbind(-1)
    corners = torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=-1)
    corners = corners * sizes.repeat(1, 2)[:, None, :]
    frame_boxes = torch.cat([corners, angle[..., None]], dim=-1)

    scores, flat_index = torch.topk(logits.sigmoid().flatten(1), top_k, dim=-1)
    labels = flat_index % num_classes
    query = flat_index // num_classes
    picked = frame_boxes.gather(1, query[..., None].expand(-1, -1, frame_boxes.shape[-1]))
    return [
        {"labels": lab, "scores": sco, "boxes": box}
        for lab, sco, box in zip(labels, scores, picked, strict=True)
    ]
