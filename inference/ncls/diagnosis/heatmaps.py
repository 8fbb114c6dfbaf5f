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


def finer_cam(nets: list[DiagnosisNet], image: np.ndarray, *, device: str | torch.device = "cpu") -> tuple[np.ndarray, int]:
    """Finer-CAM of one prepared view (3×S×S uint8) averaged over ``nets``; return (S×S map, target)."""
    tensor = normalise(torch.from_numpy(image)[None]).to(device)
    with torch.no_grad():
        logits = torch.stack([ImageLabelNet(net)(tensor)[0] for net in nets]).mean(0)
    target = int(torch.argmax(logits))
    maps = []
    for net in nets:
        model = ImageLabelNet(net).eval()
        with FinerCAM(model=model, target_layers=[net.encoder.features[-1]]) as cam:
            maps.append(cam(input_tensor=tensor, target_idx=target)[0])
    heatmap = np.mean(maps, axis=0).astype(np.float32)
    top = float(heatmap.max())
    return (heatmap / top if top > 0 else heatmap), target


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
    result = {}
    for name, frame in views.items():
        view = _as_view(name)
        heatmap, target = finer_cam(ensemble.nets, prepare_view(frame, ensemble.image_size), device=ensemble.device)
        path = None
        if out_dir is not None:
            path = Path(out_dir) / f"heatmap_{view.value}.png"
            cv2.imwrite(str(path), cv2.cvtColor(overlay(frame, heatmap), cv2.COLOR_RGB2BGR))
        result[view.value] = ViewHeatmap(view.value, str(IMAGE_LABELS[target]), heatmap, path)
    return result
