"""Inference with the fold ensemble: test-time augmentation, fold averaging, the rule.

>>> ensemble = DiagnosisEnsemble.load("inference/ncls/demo_models/diagnosis-lite")
>>> diagnosis = ensemble.diagnose({"AHV": frame_rgb, "TVV": frame_rgb2, ...})
>>> diagnosis.severe, diagnosis.severe_probability, diagnosis.rule
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from core.labels import IMAGE_LABELS, View

from .checkpoint import DEMO_NOTICE, FoldModel, fold_jsons, load_fold
from .data import normalise, parse_view, prepare_view, stack_views
from .model import VIEW_SLOTS, DiagnosisNet, ProbabilityNet
from .rules import DecidingRule, decide, flags_severe, image_label_set, is_abnormal

if TYPE_CHECKING:
    from .heatmaps import ViewHeatmap

#: Test-time augmentations: the image as is and mirrored left–right.
TTA_FLIPS: tuple[bool, ...] = (False, True)


@torch.no_grad()
def infer_probabilities(
    nets: Sequence[DiagnosisNet],
    images: torch.Tensor,
    masks: torch.Tensor,
    *,
    tta: bool = True,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Average probabilities over ``nets`` and test-time augmentations.

    ``images`` is N×6×3×S×S uint8, ``masks`` N×6 bool. Returns image-label probabilities
    N×6×L and severe probabilities N (both float64 numpy arrays).
    """
    if not nets:
        raise ValueError("no network to run")
    flips = TTA_FLIPS if tta else (False,)
    image_sum = np.zeros((images.shape[0], images.shape[1], len(IMAGE_LABELS)))
    severe_sum = np.zeros(images.shape[0])
    for net in nets:
        was_training = net.training
        net.eval()
        model = ProbabilityNet(net)
        for start in range(0, images.shape[0], batch_size):
            batch = normalise(images[start : start + batch_size]).to(device)
            mask = masks[start : start + batch_size].to(device)
            for flip in flips:
                image_p, severe_p = model(batch.flip(-1) if flip else batch, mask)
                image_sum[start : start + batch_size] += image_p.double().cpu().numpy()
                severe_sum[start : start + batch_size] += severe_p.double().cpu().numpy()
        net.train(was_training)
    runs = len(nets) * len(flips)
    return image_sum / runs, severe_sum / runs


@dataclass(frozen=True)
class ImagePrediction:
    """The image head's output for one view."""

    view: str
    probabilities: dict[str, float]
    labels: tuple[str, ...]
    abnormal: bool
    severe_flag: bool


@dataclass(frozen=True)
class CaseDiagnosis:
    """The AI's diagnosis of one case."""

    severe_probability: float
    severe: bool
    rule: DecidingRule
    image_labels: dict[str, ImagePrediction]
    model_versions: tuple[str, ...]
    demo: bool
    notice: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dictionary."""
        data = asdict(self)
        data["rule"] = str(self.rule)
        data["model_versions"] = list(self.model_versions)
        for prediction in data["image_labels"].values():
            prediction["labels"] = list(prediction["labels"])
        return data


def case_diagnosis(
    severe_probability: float,
    image_probabilities: np.ndarray,
    mask: np.ndarray,
    *,
    model_versions: Sequence[str] = (),
    demo: bool = False,
) -> CaseDiagnosis:
    """Apply the ensemble rule to one case's averaged probabilities (6×L and a 6-mask)."""
    predictions: dict[str, ImagePrediction] = {}
    label_sets = []
    for slot, view in enumerate(VIEW_SLOTS):
        if not bool(mask[slot]):
            continue
        row = np.clip(image_probabilities[slot], 0.0, 1.0)
        labels = image_label_set([float(p) for p in row])
        label_sets.append(labels)
        predictions[view.value] = ImagePrediction(
            view=view.value,
            probabilities={
                str(label): float(p) for label, p in zip(IMAGE_LABELS, row, strict=True)
            },
            labels=tuple(str(label) for label in IMAGE_LABELS if label in labels),
            abnormal=is_abnormal(labels),
            severe_flag=flags_severe(labels),
        )
    probability = float(np.clip(severe_probability, 0.0, 1.0))
    decision = decide(probability, label_sets)
    return CaseDiagnosis(
        severe_probability=probability,
        severe=decision.severe,
        rule=decision.rule,
        image_labels=predictions,
        model_versions=tuple(model_versions),
        demo=demo,
        notice=DEMO_NOTICE if demo else None,
    )


class DiagnosisEnsemble:
    """The fold models of one training run, used together."""

    def __init__(self, folds: Sequence[FoldModel], device: str | torch.device = "cpu") -> None:
        if not folds:
            raise ValueError("an ensemble needs at least one fold model")
        sizes = {fold.net.architecture.image_size for fold in folds}
        if len(sizes) != 1:
            raise ValueError(f"fold models disagree on the input size: {sorted(sizes)}")
        self.folds = list(folds)
        self.device = torch.device(device)
        self.image_size = sizes.pop()
        #: Whether :meth:`diagnose` averages over the mirror image too (``--tta 1``: not).
        self.tta = True

    @classmethod
    def load(cls, directory: Path | str, device: str | torch.device = "cpu") -> DiagnosisEnsemble:
        """Load every fold of ``directory``, verifying each weights file's SHA-256."""
        return cls([load_fold(path, device) for path in fold_jsons(Path(directory))], device)

    @property
    def nets(self) -> list[DiagnosisNet]:
        """The fold networks."""
        return [fold.net for fold in self.folds]

    @property
    def model_versions(self) -> tuple[str, ...]:
        """Version string of every fold model."""
        return tuple(fold.version for fold in self.folds)

    @property
    def demo(self) -> bool:
        """True when any fold was trained on phantom (demo) data."""
        return any(bool(fold.metadata.get("demo")) for fold in self.folds)

    def prepare(self, views: Mapping[View | str, np.ndarray]) -> dict[View, np.ndarray]:
        """Crop and resize each view frame (H×W or H×W×3 RGB) to the model's input."""
        prepared = {
            parse_view(name): prepare_view(frame, self.image_size) for name, frame in views.items()
        }
        if not prepared:
            raise ValueError("a case needs at least one view image")
        return prepared

    def diagnose(
        self, views: Mapping[View | str, np.ndarray], *, tta: bool | None = None
    ) -> CaseDiagnosis:
        """Diagnose one case from its view frames (keys: view names such as ``"AHV"``)."""
        images, mask = stack_views(self.prepare(views), self.image_size)
        return self.diagnose_tensors(images[None], mask[None], tta=tta)[0]

    def diagnose_tensors(
        self, images: torch.Tensor, masks: torch.Tensor, *, tta: bool | None = None
    ) -> list[CaseDiagnosis]:
        """Diagnose prepared cases (N×6×3×S×S uint8 and N×6 masks); ``tta`` None: :attr:`tta`."""
        tta = self.tta if tta is None else tta
        image_p, severe_p = infer_probabilities(
            self.nets, images, masks, tta=tta, device=self.device
        )
        masks_np = masks.cpu().numpy()
        return [
            case_diagnosis(
                float(severe_p[i]),
                image_p[i],
                masks_np[i],
                model_versions=self.model_versions,
                demo=self.demo,
            )
            for i in range(images.shape[0])
        ]

    def heatmaps(
        self, views: Mapping[View | str, np.ndarray], out_dir: Path | None
    ) -> dict[str, ViewHeatmap]:
        """Finer-CAM per view (``diagnosis.heatmaps``); overlays written under ``out_dir``."""
        from .heatmaps import view_heatmaps

        return view_heatmaps(self, views, out_dir)
