"""Stage 2 with the published folds: the authors' case decision behind the platform's
diagnosis interface (``diagnose``, ``model_versions``, ``demo``, ``heatmaps``).

Why the order of operations matters: the authors average the case head's *logits* over the
test-time passes and the five folds and only then apply the softmax; the platform's own
ensemble averages probabilities. The two differ, and a threshold of 0.2 on the severe
probability is only the authors' operating point for their order, so it is kept here:

1. each view → :func:`~inference.ncls.published.diagnosis.diagnosis_pixels` (their border
   crop, resize, centre crop) from the whole frame in B, G, R order;
2. ``tta`` seeded passes (:mod:`inference.ncls.published.tta`; 1 = no augmentation), each pass
   one bag of all the case's views, the same passes for every fold;
3. case logits and image logits averaged over folds × passes; softmax → severe probability,
   sigmoid → image-label probabilities;
4. the platform's rule (``diagnosis.rules``: severe at ≥ 0.2, image-head safety net).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.labels import IMAGE_LABELS, Condition, View
from inference.ncls.diagnosis.data import parse_view
from inference.ncls.diagnosis.heatmaps import ViewHeatmap
from inference.ncls.diagnosis.model import VIEW_SLOTS
from inference.ncls.diagnosis.predict import CaseDiagnosis, case_diagnosis

from .diagnosis import diagnosis_pixels
from .model_dir import PublishedModels
from .tta import DEFAULT_PASSES, DEFAULT_SEED, tta_inputs

#: Conditions of the image head's six outputs, in output order, read off the authors' decision
#: code (module_diagnosis.py at bece200): output 0 is "normal" (an image is abnormal when it is
#: not 0 and one of 3-5 fires); outputs 1 and 2 each make a case severe on their own, so they
#: are PVL and hydrocephalus; 3 together with 5 on one image makes it severe ("dilation and
#: haemorrhage" in their comment), so they are IVH and ventricular dilation; 4, which never
#: decides, is the ependymal cyst. Their code does not tell the order inside the pairs {1, 2}
#: and {3, 5}; the severe rule is the same either way, only the per-image labels shown could
#: swap. A test pins this order to the rule (tests/inference/test_published_pipeline.py).
IMAGE_HEAD_ORDER: tuple[Condition, ...] = (
    Condition.NORMAL,
    Condition.PVL,
    Condition.HYDROCEPHALUS,
    Condition.IVH,
    Condition.EPENDYMAL_CYST,
    Condition.VENTRICULAR_DILATION,
)
#: A fold: (images N×3×S×S, bag lengths) → (case logits, image logits, plane logits).
FoldNet = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
#: At most this many images go through a network in one forward call.
MAX_BATCH_IMAGES = 30


def rgb_to_bgr(frame: np.ndarray) -> np.ndarray:
    """An RGB (or grey) view frame as the B, G, R array the authors' input expects."""
    image = np.asarray(frame)
    if image.ndim == 2:
        return np.ascontiguousarray(image.astype(np.uint8))
    return np.ascontiguousarray(image[..., 2::-1].astype(np.uint8))


@torch.no_grad()
def average_logits(
    folds: Sequence[FoldNet], inputs: torch.Tensor, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean case logits (2,) and image logits (N×6) over folds × passes.

    ``inputs`` is passes × N × 3 × S × S (normalised): each pass is one bag of N views.
    """
    passes, views = inputs.shape[:2]
    chunk = max(1, MAX_BATCH_IMAGES // views)
    case_sum = torch.zeros(2, dtype=torch.float64)
    image_sum = torch.zeros(views, 6, dtype=torch.float64)
    for net in folds:
        for start in range(0, passes, chunk):
            part = inputs[start : start + chunk]
            lengths = torch.full((part.shape[0],), views, dtype=torch.long)
            case, image, _ = net(part.reshape(-1, *part.shape[2:]).to(device), lengths)
            case_sum += case.double().sum(0).cpu()
            image_sum += image.double().reshape(part.shape[0], views, -1).sum(0).cpu()
    runs = len(folds) * passes
    return case_sum / runs, image_sum / runs


class PublishedEnsemble:
    """The five published folds used together, as the authors decide a case."""

    def __init__(
        self,
        models: PublishedModels,
        *,
        tta: int = DEFAULT_PASSES,
        seed: int = DEFAULT_SEED,
        device: str | torch.device = "cpu",
        networks: Sequence[FoldNet] | None = None,
        engine: str = "torch",
    ) -> None:
        if tta < 1:
            raise ValueError(f"--tta must be at least 1, got {tta}")
        self.models = models
        self.device = torch.device(device)
        # ``networks``: the folds run by another engine (``published.onnx``), called as the
        # PyTorch folds are; by default the PyTorch folds of ``models``.
        self.folds: list[FoldNet] = (
            [net.to(self.device).eval() for net in models.folds]
            if networks is None
            else list(networks)
        )
        self.engine = engine
        self.tta = int(tta)
        self.seed = int(seed)

    @property
    def model_versions(self) -> tuple[str, ...]:
        """One version string per fold: the import's version and the fold number."""
        return tuple(f"{self.models.version}-fold{k}" for k in range(1, len(self.folds) + 1))

    @property
    def demo(self) -> bool:
        """Published weights are never demo models."""
        return False

    def logits(self, views: Mapping[View, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """Averaged case and image logits of views (RGB frames), given in slot order."""
        pixels = torch.stack([diagnosis_pixels(rgb_to_bgr(frame)) for frame in views.values()])
        return average_logits(self.folds, tta_inputs(pixels, self.tta, self.seed), self.device)

    def diagnose(self, views: Mapping[View | str, np.ndarray]) -> CaseDiagnosis:
        """Diagnose one case from its view frames (RGB, whole frames or crops; keys: view names)."""
        named = {parse_view(name): np.asarray(frame) for name, frame in views.items()}
        if not named:
            raise ValueError("a case needs at least one view image")
        ordered = {view: named[view] for view in VIEW_SLOTS if view in named}
        case_logits, image_logits = self.logits(ordered)
        severe = float(torch.softmax(case_logits, dim=0)[1])
        probabilities = np.zeros((len(VIEW_SLOTS), len(IMAGE_LABELS)))
        mask = np.zeros(len(VIEW_SLOTS), dtype=bool)
        order = [IMAGE_HEAD_ORDER.index(label) for label in IMAGE_LABELS]
        for row, view in zip(torch.sigmoid(image_logits).numpy(), ordered, strict=True):
            slot = VIEW_SLOTS.index(view)
            probabilities[slot] = row[order]
            mask[slot] = True
        return case_diagnosis(severe, probabilities, mask, model_versions=self.model_versions)

    def heatmaps(
        self, views: Mapping[View | str, np.ndarray], out_dir: Path | None
    ) -> dict[str, ViewHeatmap]:
        """No Finer-CAM for the published network yet: the case is diagnosed without overlays."""
        return {}

    def describe(self) -> dict[str, Any]:
        """What ``result.json`` records about this stage's processing."""
        return {
            "profile": "published",
            "tta": self.tta,
            "seed": self.seed,
            "averaging": "case logits over folds x passes, then softmax",
            "engine": self.engine,
        }
