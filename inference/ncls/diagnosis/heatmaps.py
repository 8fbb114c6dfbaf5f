"""Finer-CAM heatmaps per view (Zhang et al., "Finer-CAM", CVPR 2025; grad-cam's FinerCAM).

Each view is explained through the image head of every fold model (the per-image
classifier :class:`~inference.ncls.diagnosis.model.ImageLabelNet`), targeting the view's
most likely label and contrasting it with the labels closest to it; the fold maps are
averaged. Overlays are written as PNG at the cropped sector's size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from pytorch_grad_cam import FinerCAM
from pytorch_grad_cam.utils.image import show_cam_on_image
from pytorch_grad_cam.utils.model_targets import FinerWeightedTarget

from inference.ncls.labels import IMAGE_LABELS, View
from inference.ncls.roi import crop_sector

from .data import normalise, prepare_view
from .model import DiagnosisNet, ImageLabelNet
from .predict import DiagnosisEnsemble, _as_view


@dataclass(frozen=True)
class ViewHeatmap:
    """A view's heatmap: the map at model resolution (values in [0, 1]), its target label, the PNG."""

    view: str
    target_label: str
    heatmap: np.ndarray  # S×S float32
    overlay_path: Path | None


def finer_cam(
    nets: list[DiagnosisNet], images: np.ndarray, *, device: str | torch.device = "cpu", comparisons: int = 3
) -> tuple[np.ndarray, list[int]]:
    """Finer-CAM of prepared views (N×3×S×S uint8) averaged over ``nets``.

    Each view's target is its most likely label (fold-averaged logits); it is contrasted
    with the ``comparisons`` labels whose logits lie closest to it, as FinerCAM does by
    default. One CAM pass per fold covers all views. Returns (N×S×S maps in [0, 1], targets).
    """
    tensor = normalise(torch.from_numpy(np.ascontiguousarray(images))).to(device)
    with torch.no_grad():
        logits = torch.stack([ImageLabelNet(net).eval()(tensor) for net in nets]).mean(0)
    targets = [int(i) for i in logits.argmax(-1)]
    cam_targets = []
    for row, target in zip(logits, targets, strict=True):
        order = torch.argsort((row - row[target]).abs()).tolist()
        cam_targets.append(FinerWeightedTarget(target, [c for c in order if c != target][:comparisons], 1.0))
    maps = []
    for net in nets:
        with FinerCAM(model=ImageLabelNet(net).eval(), target_layers=[net.encoder.last_stage]) as cam:
            maps.append(cam(input_tensor=tensor, targets=cam_targets))
    heatmaps = np.mean(maps, axis=0).astype(np.float32)
    top = heatmaps.reshape(len(heatmaps), -1).max(axis=1).reshape(-1, 1, 1)
    return np.divide(heatmaps, top, out=np.zeros_like(heatmaps), where=top > 0), targets


def overlay(frame: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """The heatmap over the frame's cropped sector (RGB uint8, sector size)."""
    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=2)
    cropped, _ = crop_sector(np.ascontiguousarray(frame[..., :3].astype(np.uint8)))
    resized = cv2.resize(heatmap, (cropped.shape[1], cropped.shape[0]), interpolation=cv2.INTER_LINEAR)
    return show_cam_on_image(cropped.astype(np.float32) / 255.0, resized, use_rgb=True)


def view_heatmaps(
    ensemble: DiagnosisEnsemble,
    views: Mapping[View | str, np.ndarray],
    out_dir: Path | None = None,
) -> dict[str, ViewHeatmap]:
    """Finer-CAM for every view; when ``out_dir`` is given, write ``heatmap_<VIEW>.png`` overlays."""
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    named = {_as_view(name): frame for name, frame in views.items()}
    if not named:
        return {}
    prepared = np.stack([prepare_view(frame, ensemble.image_size) for frame in named.values()])
    heatmaps, targets = finer_cam(ensemble.nets, prepared, device=ensemble.device)
    result = {}
    for (view, frame), heatmap, target in zip(named.items(), heatmaps, targets, strict=True):
        path = None
        if out_dir is not None:
            path = Path(out_dir) / f"heatmap_{view.value}.png"
            cv2.imwrite(str(path), cv2.cvtColor(overlay(frame, heatmap), cv2.COLOR_RGB2BGR))
        result[view.value] = ViewHeatmap(view.value, str(IMAGE_LABELS[target]), heatmap, path)
    return result
