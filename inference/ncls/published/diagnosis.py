"""The NCLS authors' multi-view diagnosis network and its per-view input, re-implemented.

Why a re-implementation: the authors publish five trained fold checkpoints of a ConvNeXt-Tiny
with three heads (see ``/work/shared/published_ncls/README.md``). This module builds a network
whose ``state_dict`` has exactly their key names and shapes (``diagnosis_keys.json``), so their
files load unchanged, and which computes what their code computes (golden outputs within 1e-4).

Why not torchvision's ConvNeXt as a whole: its blocks name their parameters ``block.0``,
``block.3``… and keep the layer scale as a ``[C, 1, 1]`` tensor, where the authors' checkpoints
say ``dwconv``, ``pwconv1``, ``gamma`` (``[C]``). Re-mapping every key on load and save would
make every error message name keys the checkpoint does not contain. We reuse torchvision's
channels-first ``LayerNorm2d`` (same keys, same computation) and write only the block.

Channel order: the authors read each view PNG as RGB with PIL and then, inside their border
crop, convert it with OpenCV's ``BGR2RGB``, which reverses it again. Their network therefore
sees the channels in B, G, R order — the order of an OpenCV frame as decoded. Their grey image
for the black-border threshold is likewise OpenCV's ``BGR2GRAY`` of the RGB array, i.e. the
BT.601 weights applied to the reversed channels; :func:`diagnosis_input` reproduces both.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torch import nn
from torchvision.models.convnext import LayerNorm2d

#: ConvNeXt-Tiny: blocks per stage and stage widths.
DEPTHS: tuple[int, ...] = (3, 3, 9, 3)
DIMS: tuple[int, ...] = (96, 192, 384, 768)
#: The authors pad every case to six views before the case attention.
MAX_VIEWS = 6
ATTENTION_HEADS = 8
NUM_CASE_CLASSES = 2  # index 1 = severe
NUM_IMAGE_LABELS = 6
NUM_PLANES = 5
#: Dropout in front of each head (only active in training; kept so ``train()`` behaves as theirs).
HEAD_DROPOUT = 0.3

#: Per-view input: side after the centre crop, short side before it, normalisation (B, G, R).
INPUT_SIZE = 256
RESIZE_SHORT = 300
PIXEL_MEAN: tuple[float, float, float] = (0.1798, 0.1799, 0.1799)
PIXEL_STD: tuple[float, float, float] = (0.2080, 0.2080, 0.2081)
#: Border crop: the ultrasound sector is the largest contour above this area (pixels) whose
#: bounding box has an aspect ratio (w / h) strictly between these bounds.
CROP_MIN_AREA = 20_000.0
CROP_ASPECT = (0.5, 2.5)


class ConvNeXtBlock(nn.Module):
    """One ConvNeXt block with the authors' parameter names (``dwconv``, ``norm``, ``gamma``…).

    Depth-wise 7×7 convolution, LayerNorm over channels, 4× MLP with GELU, layer scale and a
    residual connection. No stochastic depth: it is the identity at inference.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), 1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` N×C×H×W → same shape."""
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).permute(0, 3, 1, 2)


def _head(width: int, outputs: int) -> nn.Sequential:
    """Dropout then a linear layer: keys ``<head>.1.weight`` / ``.bias`` as in the checkpoints."""
    return nn.Sequential(nn.Dropout(HEAD_DROPOUT), nn.Linear(width, outputs))


class PublishedDiagnosisNet(nn.Module):
    """The authors' case classifier: ConvNeXt-Tiny per view, image/plane heads, case attention.

    ``forward(images, bag_lengths)``: ``images`` N×3×256×256 are the views of B cases one
    after the other, ``bag_lengths`` (B,) how many views each case has (1–6, summing to N).
    Returns ``(case_logits B×2, image_logits N×6, plane_logits N×5)``.

    The case head reads a learned class token after one 8-head attention layer over
    ``[class token, view features zero-padded to six]``; padded views are masked as keys, so
    they cannot change the result. There is no residual or norm around that attention.
    """

    def __init__(self) -> None:
        super().__init__()
        self.downsample_layers = nn.ModuleList(
            [
                nn.Sequential(
                    nn.Conv2d(3, DIMS[0], kernel_size=4, stride=4), LayerNorm2d(DIMS[0], eps=1e-6)
                )
            ]
        )
        for i in range(len(DIMS) - 1):
            self.downsample_layers.append(
                nn.Sequential(
                    LayerNorm2d(DIMS[i], eps=1e-6),
                    nn.Conv2d(DIMS[i], DIMS[i + 1], kernel_size=2, stride=2),
                )
            )
        self.stages = nn.ModuleList(
            nn.Sequential(*(ConvNeXtBlock(dim) for _ in range(depth)))
            for dim, depth in zip(DIMS, DEPTHS, strict=True)
        )
        width = DIMS[-1]
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(width, ATTENTION_HEADS, batch_first=True)
        self.cls_token = nn.Parameter(torch.zeros(1, width))
        self.disease_classifier = _head(width, NUM_CASE_CLASSES)
        self.instance_classifier = _head(width, NUM_IMAGE_LABELS)
        self.plane_classifier = _head(width, NUM_PLANES)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Per-view features N×768: the four stages, global mean over space, LayerNorm."""
        x = images
        for downsample, stage in zip(self.downsample_layers, self.stages, strict=True):
            x = stage(downsample(x))
        return self.norm(x.mean(dim=(-2, -1)))

    def forward(
        self, images: torch.Tensor, bag_lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(case_logits B×2, image_logits N×6, plane_logits N×5)``."""
        lengths = torch.as_tensor(bag_lengths, dtype=torch.long, device=images.device).reshape(-1)
        if int(lengths.sum()) != images.shape[0]:
            raise ValueError(
                f"bag lengths sum to {int(lengths.sum())} but {images.shape[0]} images were given"
            )
        if bool(((lengths < 1) | (lengths > MAX_VIEWS)).any()):
            raise ValueError(
                f"every case needs 1 to {MAX_VIEWS} views, got bag lengths {lengths.tolist()}"
            )
        features = self.features(images)
        image_logits = self.instance_classifier(features)
        plane_logits = self.plane_classifier(features)

        batch = lengths.shape[0]
        slots = torch.arange(MAX_VIEWS, device=images.device)
        present = slots.unsqueeze(0) < lengths.unsqueeze(1)  # B×6, views in input order
        padded = features.new_zeros(batch, MAX_VIEWS, features.shape[-1])
        padded[present] = features
        tokens = torch.cat([self.cls_token.expand(batch, -1).unsqueeze(1), padded], dim=1)
        # The class token is never masked, so every query row has at least one key.
        ignore = torch.cat([torch.zeros_like(present[:, :1]), ~present], dim=1)
        attended, _ = self.self_attention(
            tokens, tokens, tokens, key_padding_mask=ignore, need_weights=False
        )
        case_logits = self.disease_classifier(attended[:, 0])
        return case_logits, image_logits, plane_logits


def build_diagnosis() -> PublishedDiagnosisNet:
    """A fresh (untrained) network in eval mode; load weights with ``load_state_dict``."""
    return PublishedDiagnosisNet().eval()


def crop_sector(view_bgr: np.ndarray) -> np.ndarray:
    """The authors' black-border removal: the largest plausible non-black region, cropped.

    Pixels whose grey value (see the module docstring for the channel quirk) exceeds 1 form
    regions; those with area above :data:`CROP_MIN_AREA` and bounding-box aspect ratio in
    :data:`CROP_ASPECT` are plausible. The other plausible regions are painted black (they may
    overlap the crop), and the bounding box of the largest is returned. With no plausible
    region the whole image is returned (the authors' code stops with an error there; a whole
    frame is the README's stated fallback).
    """
    gray = cv2.cvtColor(view_bgr, cv2.COLOR_RGB2GRAY)
    _, mask = cv2.threshold(gray, 1, 255, cv2.THRESH_BINARY)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    plausible = []
    for contour in contours:
        _, _, w, h = cv2.boundingRect(contour)
        aspect = w / h if h > 0 else 0.0
        if CROP_ASPECT[0] < aspect < CROP_ASPECT[1] and cv2.contourArea(contour) > CROP_MIN_AREA:
            plausible.append(contour)
    if not plausible:
        return view_bgr
    areas = [cv2.contourArea(c) for c in plausible]
    best = int(np.argmax(areas))  # first of equal maxima, as Python's max()
    image = view_bgr.copy()
    others = [c for i, c in enumerate(plausible) if i != best]
    if others:
        cv2.drawContours(image, others, -1, 0, thickness=cv2.FILLED)
    x, y, w, h = cv2.boundingRect(plausible[best])
    return image[y : y + h, x : x + w]


def diagnosis_input(view_bgr: np.ndarray) -> torch.Tensor:
    """One view frame (H×W×3 BGR or H×W grey, uint8) → the network's 3×256×256 float input.

    Border crop (:func:`crop_sector`), short side to 300 and centre crop to 256 exactly as
    torchvision's ``Resize``/``CenterCrop`` do on a PIL image (bilinear, antialiased, rounded
    to uint8 in between), scaled to [0, 1] and normalised. Channels stay B, G, R (see the
    module docstring). The authors' random test-time augmentations are not applied here.
    """
    return TF.normalize(diagnosis_pixels(view_bgr), list(PIXEL_MEAN), list(PIXEL_STD))


def diagnosis_pixels(view_bgr: np.ndarray) -> torch.Tensor:
    """:func:`diagnosis_input` before normalisation (3×256×256 in [0, 1]): what the authors'
    test-time augmentations act on (``published.tta``)."""
    if not isinstance(view_bgr, np.ndarray) or view_bgr.dtype != np.uint8:
        raise ValueError("a view must be a uint8 numpy array")
    if view_bgr.ndim == 2:
        view_bgr = cv2.cvtColor(view_bgr, cv2.COLOR_GRAY2BGR)
    if view_bgr.ndim != 3 or view_bgr.shape[2] != 3:
        raise ValueError(f"a view must be H×W×3 (BGR) or H×W, got shape {view_bgr.shape}")
    cropped = np.ascontiguousarray(crop_sector(view_bgr))
    picture = Image.fromarray(cropped)  # PIL calls it RGB; the bytes stay B, G, R
    picture = TF.center_crop(TF.resize(picture, [RESIZE_SHORT]), [INPUT_SIZE])
    return TF.to_tensor(picture)
