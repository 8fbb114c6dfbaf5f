"""Finer-CAM heatmaps per view (Zhang et al., "Finer-CAM", CVPR 2025; grad-cam's FinerCAM).

Each view is explained through the image head of every fold model (the per-image
classifier :class:`~inference.ncls.diagnosis.model.ImageLabelNet`); the fold maps are
averaged. Overlays are written as PNG at the cropped sector's size.

How (:class:`CamSettings`; measured on phantom cases whose lesions are known, see
:mod:`inference.ncls.diagnosis.localisation` and the ``localisation`` block of the demo
models' ``diagnosis.json``):

* **target class**: the most likely *lesion* label of the view's image head (IVH, PVL,
  hydrocephalus …; ``normal`` is never the target), contrasted with the labels whose logits
  lie closest to it, as FinerCAM does. The first version targeted the most likely label,
  so a view the head calls normal was explained as "normal" — a map of everything.
* **layer**: the backbone's first stage (``stages=(-4,)``, 1/4 of the input: 16×16 for the
  lite profile). The last stage is 2×2 at the lite profile's 64×64 input, so its map,
  resized, was a colour gradient across the sector whatever the image showed. Tried on 60
  phantom cases (255 view–lesion pairs): last stage 11 % pointing hits, 1/16 17 %, 1/8 17 %,
  1/4 22 % (chance 10 %); several stages together or a 2× input did no better.
* **normalisation within the sector**: every fold map is set to zero outside the sector
  mask and min–max scaled over the sector only (grad-cam scales over the whole square,
  black corners included), so the maximum and the colours refer to the sector.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import torch
from pytorch_grad_cam import FinerCAM
from pytorch_grad_cam.utils.image import show_cam_on_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget, FinerWeightedTarget

from core.labels import IMAGE_LABELS, Condition, View
from core.roi import crop_sector

from .data import normalise, parse_view, prepare_view
from .model import DiagnosisNet, ImageLabelNet

#: Target modes: ``lesion``, the most likely label other than normal; ``predicted``, the most
#: likely label (normal included; the first version's choice).
TARGET_MODES = ("lesion", "predicted")
_NORMAL = IMAGE_LABELS.index(Condition.NORMAL)


class FoldEnsemble(Protocol):
    """What a heatmap needs of a fold ensemble (:class:`~.predict.DiagnosisEnsemble` has it).

    Typed by shape rather than by class so that this module does not import ``predict``,
    which imports it to offer :meth:`~.predict.DiagnosisEnsemble.heatmaps`.
    """

    @property
    def nets(self) -> list[DiagnosisNet]: ...

    @property
    def device(self) -> torch.device: ...

    @property
    def image_size(self) -> int: ...


@dataclass(frozen=True)
class CamSettings:
    """How a Finer-CAM heatmap is made.

    ``stages``: backbone stages counted from the end (-1: last, -2: the one before …; several:
    grad-cam averages their scaled maps);
    ``target``: one of :data:`TARGET_MODES`; ``sector_only``: zero outside the sector and scale
    within it; ``scale``: the views are prepared at ``scale`` × the model's input size for
    the CAM pass (1: the model's own size); ``comparisons``: labels contrasted with the target.
    """

    stages: tuple[int, ...] = (-4,)
    target: str = "lesion"
    sector_only: bool = True
    scale: int = 1
    comparisons: int = 3

    def __post_init__(self) -> None:
        if self.target not in TARGET_MODES:
            raise ValueError(f"target must be one of {TARGET_MODES}, got {self.target!r}")
        if not self.stages or any(stage >= 0 for stage in self.stages):
            raise ValueError(f"stages count from the end (-1: last), got {self.stages}")
        if self.scale < 1:
            raise ValueError(f"scale must be at least 1, got {self.scale}")

    def to_json(self) -> dict[str, Any]:
        """Plain-data form (recorded with localisation figures)."""
        return asdict(self)


#: The first version: last stage, most likely label, grad-cam's scaling over the whole square.
LEGACY_SETTINGS = CamSettings(stages=(-1,), target="predicted", sector_only=False)
#: What the platform uses (chosen on phantom localisation; see the module docstring).
DEFAULT_SETTINGS = CamSettings()


@dataclass(frozen=True)
class ViewHeatmap:
    """A view's heatmap: the map at model resolution (in [0, 1]), its target label, the PNG."""

    view: str
    target_label: str
    heatmap: np.ndarray  # S×S float32
    overlay_path: Path | None


def prepare_sector(frame: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`prepare_view` and the sector's mask on the same size×size grid (bool)."""
    image = prepare_view(frame, size)
    grey = np.asarray(frame)
    if grey.ndim == 3:
        grey = np.ascontiguousarray(grey[..., :3].astype(np.uint8))
    _, roi = crop_sector(grey)
    cropped = roi.mask[roi.y0 : roi.y1, roi.x0 : roi.x1].astype(np.float32)
    mask = cv2.resize(cropped, (size, size), interpolation=cv2.INTER_AREA) >= 0.5
    return image, mask


def pick_targets(logits: torch.Tensor, mode: str) -> list[int]:
    """Target label per row of (fold-averaged) image-head logits for a :data:`TARGET_MODES` mode."""
    if mode not in TARGET_MODES:
        raise ValueError(f"target must be one of {TARGET_MODES}, got {mode!r}")
    scores = logits.clone()
    if mode == "lesion":
        scores[:, _NORMAL] = -torch.inf
    return [int(i) for i in scores.argmax(-1)]


def scale_within(maps: np.ndarray, sectors: np.ndarray) -> np.ndarray:
    """Each map set to 0 outside its sector and min–max scaled to [0, 1] inside it."""
    out = np.zeros_like(maps, dtype=np.float32)
    for i, (cam, sector) in enumerate(zip(maps, sectors, strict=True)):
        if not sector.any():
            continue
        inside = cam[sector]
        low, high = float(inside.min()), float(inside.max())
        if high > low:
            out[i][sector] = (inside - low) / (high - low)
    return out


def finer_cam(
    nets: list[DiagnosisNet],
    images: np.ndarray,
    *,
    device: str | torch.device = "cpu",
    settings: CamSettings = DEFAULT_SETTINGS,
    sectors: np.ndarray | None = None,
    targets: Sequence[int] | None = None,
) -> tuple[np.ndarray, list[int]]:
    """Finer-CAM of prepared views (N×3×S×S uint8) averaged over ``nets``.

    ``sectors`` (N×S×S bool) are the views' sector masks, needed when
    ``settings.sector_only``. ``targets`` overrides the target labels (IMAGE_LABELS indices),
    e.g. a known lesion's. Each target is contrasted with the ``settings.comparisons`` labels
    whose logits lie closest to it. Returns (N×S×S maps in [0, 1], targets).
    """
    if settings.sector_only and sectors is None:
        raise ValueError("sector-only scaling needs the views' sector masks")
    tensor = normalise(torch.from_numpy(np.ascontiguousarray(images))).to(device)
    with torch.no_grad():
        logits = torch.stack([ImageLabelNet(net).eval()(tensor) for net in nets]).mean(0)
    chosen = list(targets) if targets is not None else pick_targets(logits, settings.target)
    if len(chosen) != len(images):
        raise ValueError(f"{len(chosen)} targets for {len(images)} images")
    cam_targets: list[FinerWeightedTarget | ClassifierOutputTarget] = []
    for row, target in zip(logits, chosen, strict=True):
        order = torch.argsort((row - row[target]).abs()).tolist()
        comparisons = [c for c in order if c != target][: settings.comparisons]
        cam_targets.append(
            FinerWeightedTarget(target, comparisons, 1.0)
            if comparisons
            else ClassifierOutputTarget(target)
        )
    maps = []
    for net in nets:
        layers = [net.encoder.stages[stage] for stage in settings.stages]
        with FinerCAM(model=ImageLabelNet(net).eval(), target_layers=layers) as cam:
            fold_maps = cam(input_tensor=tensor, targets=cam_targets)
        if settings.sector_only:
            assert sectors is not None
            fold_maps = scale_within(fold_maps, sectors)
        maps.append(fold_maps)
    heatmaps = np.mean(maps, axis=0).astype(np.float32)
    if settings.sector_only:
        assert sectors is not None
        return scale_within(heatmaps, sectors), chosen
    top = heatmaps.reshape(len(heatmaps), -1).max(axis=1).reshape(-1, 1, 1)
    return np.divide(heatmaps, top, out=np.zeros_like(heatmaps), where=top > 0), chosen


def frame_heatmaps(
    ensemble: FoldEnsemble,
    frames: Sequence[np.ndarray],
    *,
    settings: CamSettings = DEFAULT_SETTINGS,
    targets: Sequence[int] | None = None,
) -> tuple[np.ndarray, list[int]]:
    """Finer-CAM of view frames (H×W or H×W×3): (N×S'×S' maps, targets), S' = scale × input."""
    if not frames:
        return np.zeros((0, ensemble.image_size, ensemble.image_size), np.float32), []
    size = ensemble.image_size * settings.scale
    prepared = [prepare_sector(frame, size) for frame in frames]
    images = np.stack([image for image, _ in prepared])
    sectors = np.stack([sector for _, sector in prepared])
    return finer_cam(
        ensemble.nets,
        images,
        device=ensemble.device,
        settings=settings,
        sectors=sectors,
        targets=targets,
    )


def overlay(frame: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """The heatmap over the frame's cropped sector (RGB uint8, sector size)."""
    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=2)
    cropped, _ = crop_sector(np.ascontiguousarray(frame[..., :3].astype(np.uint8)))
    resized = cv2.resize(
        heatmap, (cropped.shape[1], cropped.shape[0]), interpolation=cv2.INTER_LINEAR
    )
    return show_cam_on_image(cropped.astype(np.float32) / 255.0, resized, use_rgb=True)


def view_heatmaps(
    ensemble: FoldEnsemble,
    views: Mapping[View | str, np.ndarray],
    out_dir: Path | None = None,
    *,
    settings: CamSettings = DEFAULT_SETTINGS,
) -> dict[str, ViewHeatmap]:
    """Finer-CAM for every view; with ``out_dir``, also write ``heatmap_<VIEW>.png`` overlays."""
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    named = {parse_view(name): frame for name, frame in views.items()}
    if not named:
        return {}
    heatmaps, targets = frame_heatmaps(ensemble, list(named.values()), settings=settings)
    result = {}
    for (view, frame), heatmap, target in zip(named.items(), heatmaps, targets, strict=True):
        path = None
        if out_dir is not None:
            path = Path(out_dir) / f"heatmap_{view.value}.png"
            cv2.imwrite(str(path), cv2.cvtColor(overlay(frame, heatmap), cv2.COLOR_RGB2BGR))
        result[view.value] = ViewHeatmap(view.value, str(IMAGE_LABELS[target]), heatmap, path)
    return result
