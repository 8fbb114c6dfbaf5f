"""Training of the diagnosis model with K-fold cross-validation (DESIGN.md, stage 2).

Losses: BCE for the image head (present views only), class-balanced cross-entropy for the
case head (Cui et al., "Class-Balanced Loss Based on Effective Number of Samples", CVPR
2019), and RegMixup (Pinto et al., NeurIPS 2022): the loss on the clean batch plus the
loss on a mixup of the batch with itself, λ ~ Beta(α, α). AdamW, linear warm-up then
cosine decay per step. Augmentations (torchvision.transforms.v2, per image): horizontal
flip, grayscale, rotation, Gaussian blur.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from torchvision.transforms import v2
from tqdm import tqdm

from .checkpoint import DEMO_NOTICE, save_fold
from .data import CaseTensors, data_hash, load_cases, normalise, read_image_labels, read_manifest
from .metrics import case_metrics
from .model import DiagnosisNet, architecture_for
from .predict import case_diagnosis, infer_probabilities

#: Per-profile defaults: (epochs, batch size, learning rate).
PROFILE_DEFAULTS: dict[str, tuple[int, int, float]] = {
    "full": (45, 16, 2e-4),
    "lite": (20, 8, 2e-3),
}
#: β of the effective-number class weights.
CLASS_BALANCE_BETA = 0.999


@dataclass(frozen=True)
class TrainingConfig:
    """Options of a training run; ``None`` means the profile's default."""

    profile: str = "lite"
    folds: int = 5
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    image_size: int | None = None
    weight_decay: float = 0.05
    warmup_epochs: float = 2.0
    regmixup_alpha: float = 10.0
    regmixup_weight: float = 1.0
    seed: int = 0
    device: str = "cpu"
    only_folds: tuple[int, ...] | None = None
    max_cases: int | None = None
    demo: bool = False
    progress: bool = True

    def resolved(self) -> TrainingConfig:
        """The config with every profile default filled in."""
        epochs, batch, lr = PROFILE_DEFAULTS[self.profile]
        return replace(
            self,
            epochs=self.epochs or epochs,
            batch_size=self.batch_size or batch,
            learning_rate=self.learning_rate or lr,
            image_size=self.image_size or architecture_for(self.profile).image_size,
        )


def class_weights(labels: torch.Tensor, beta: float = CLASS_BALANCE_BETA) -> torch.Tensor:
    """Effective-number weights (1 − β) / (1 − βⁿ) of the two classes, summing to 2."""
    counts = torch.bincount(labels, minlength=2).double().clamp(min=1)
    weights = (1 - beta) / (1 - beta**counts)
    return (weights / weights.sum() * 2).float()


def _augmenter() -> v2.Transform:
    return v2.Compose(
        [
            v2.RandomHorizontalFlip(),
            v2.RandomGrayscale(p=0.1),
            v2.RandomRotation(degrees=10),
            v2.RandomApply([v2.GaussianBlur(kernel_size=5, sigma=(0.1, 1.2))], p=0.3),
        ]
    )


def augment(images: torch.Tensor, masks: torch.Tensor, transform: v2.Transform) -> torch.Tensor:
    """Augment B×6×3×S×S uint8 views; returns float pixels (0–255).

    The views of one case share one draw of the random parameters: torchvision's blur and
    rotation cost ~25 ms per call on uint8 images, so one call per case instead of per view
    keeps augmentation from dominating CPU training.
    """
    out = images.float()
    for case in range(images.shape[0]):
        present = masks[case]
        if present.any():
            out[case, present] = transform(out[case, present])
    return out


def _losses(
    net: DiagnosisNet,
    images: torch.Tensor,
    masks: torch.Tensor,
    image_targets: torch.Tensor,
    case_targets: torch.Tensor,
    weights: torch.Tensor,
    image_loss_mask: torch.Tensor,
) -> torch.Tensor:
    image_logits, case_logits = net(images, masks)
    bce = F.binary_cross_entropy_with_logits(image_logits, image_targets, reduction="none").mean(-1)
    present = image_loss_mask.float()
    image_loss = (bce * present).sum() / present.sum().clamp(min=1)
    case_loss = -(case_targets * F.log_softmax(case_logits, -1) * weights).sum(-1).mean()
    return image_loss + case_loss


def _schedule(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train_fold(
    data: CaseTensors, train_index: np.ndarray, config: TrainingConfig, fold: int
) -> tuple[DiagnosisNet, float]:
    """Train one fold network; return it and its last epoch's mean training loss."""
    config = config.resolved()
    assert config.epochs and config.batch_size and config.learning_rate and config.image_size
    torch.manual_seed(config.seed * 1000 + fold)
    device = torch.device(config.device)
    net = DiagnosisNet(architecture_for(config.profile, config.image_size)).to(device)
    optimiser = torch.optim.AdamW(
        net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    steps_per_epoch = math.ceil(len(train_index) / config.batch_size)
    total = steps_per_epoch * config.epochs
    warmup = max(1, round(config.warmup_epochs * steps_per_epoch))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: _schedule(s, total, warmup))
    weights = class_weights(data.severe[train_index]).to(device)
    transform = _augmenter()
    beta = torch.distributions.Beta(config.regmixup_alpha, config.regmixup_alpha)
    bar = tqdm(
        total=total, desc=f"fold {fold}", unit="step", disable=not config.progress, leave=False
    )
    epoch_loss = float("nan")
    net.train()
    for _ in range(config.epochs):
        order = torch.from_numpy(train_index)[torch.randperm(len(train_index))]
        losses = []
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            masks = data.masks[batch]
            images = normalise(augment(data.images[batch], masks, transform)).to(device)
            masks = masks.to(device)
            image_targets = data.image_targets[batch].to(device)
            case_targets = F.one_hot(data.severe[batch], 2).float().to(device)
            loss = _losses(net, images, masks, image_targets, case_targets, weights, masks)
            if config.regmixup_weight > 0 and len(batch) > 1:
                lam = float(beta.sample())
                pair = torch.randperm(len(batch), device=device)
                loss = loss + config.regmixup_weight * _losses(
                    net,
                    lam * images + (1 - lam) * images[pair],
                    masks | masks[pair],
                    lam * image_targets + (1 - lam) * image_targets[pair],
                    lam * case_targets + (1 - lam) * case_targets[pair],
                    weights,
                    masks & masks[pair],
                )
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            scheduler.step()
            losses.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
        epoch_loss = float(np.mean(losses))
    bar.close()
    net.eval()
    return net, epoch_loss


def validate(
    net: DiagnosisNet, data: CaseTensors, index: np.ndarray, device: str
) -> tuple[dict[str, Any], np.ndarray]:
    """One fold network's metrics on the cases ``index`` (with TTA); their severe probabilities."""
    image_p, severe_p = infer_probabilities(
        [net], data.images[index], data.masks[index], device=device
    )
    masks = data.masks[index].numpy()
    diagnoses = [
        case_diagnosis(float(severe_p[i]), image_p[i], masks[i]) for i in range(len(index))
    ]
    return case_metrics(data.severe[index].numpy(), diagnoses), severe_p


def _splits(data: CaseTensors, config: TrainingConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    labels = data.severe.numpy()
    if config.folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {config.folds}")
    if min(np.bincount(labels, minlength=2)) < config.folds:
        raise ValueError(
            f"each class needs at least {config.folds} cases for {config.folds}-fold stratification"
        )
    splitter = StratifiedKFold(n_splits=config.folds, shuffle=True, random_state=config.seed)
    return list(splitter.split(np.zeros(len(labels)), labels))


def load_training_data(
    data_dir: Path, config: TrainingConfig, image_labels: Path | None = None
) -> tuple[CaseTensors, str, Path]:
    """Read the manifest of ``data_dir`` (or the CSV itself) into memory.

    Returns the data, its hash and the manifest path.
    """
    manifest = Path(data_dir)
    if manifest.is_dir():
        manifest = manifest / "manifest.csv"
    records = [r for r in read_manifest(manifest) if not r.excluded and r.views]
    if config.max_cases:
        records = records[: config.max_cases]
    labels = read_image_labels(image_labels) if image_labels else None
    size = config.resolved().image_size
    assert size
    return load_cases(records, size, labels), data_hash(manifest, records), manifest


def train_diagnosis(
    data_dir: Path,
    out_dir: Path,
    config: TrainingConfig,
    *,
    image_labels: Path | None = None,
    command: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train the fold models, write their checkpoints and ``diagnosis.json``; return its content."""
    config = config.resolved()
    started = time.perf_counter()
    data, digest, manifest = load_training_data(data_dir, config, image_labels)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    oof = np.full(len(data.codes), np.nan)
    fold_reports = []
    for fold, (train_index, val_index) in enumerate(_splits(data, config)):
        if config.only_folds is not None and fold not in config.only_folds:
            continue
        fold_started = time.perf_counter()
        net, loss = train_fold(data, train_index, config, fold)
        metrics, severe_p = validate(net, data, val_index, config.device)
        oof[val_index] = severe_p
        metadata = {
            "folds": config.folds,
            "validation": metrics,
            "training": {
                **asdict(config),
                "final_train_loss": loss,
                "train_cases": len(train_index),
            },
            "wall_time_s": round(time.perf_counter() - fold_started, 1),
            "data": str(manifest),
            "data_hash": digest,
            "seed": config.seed,
            "command": command,
            "demo": config.demo,
            **(extra or {}),
        }
        save_fold(net, out_dir, fold, metadata)
        fold_reports.append({"fold": fold, **metrics})
        tqdm.write(
            f"fold {fold}: AUC {metrics['auc']}, "
            f"Se {metrics['sensitivity']}, Sp {metrics['specificity']}"
        )
    summary: dict[str, Any] = {
        "name": "ncls-diagnosis",
        "profile": config.profile,
        "command": command,
        "seed": config.seed,
        "data": str(manifest),
        "data_hash": digest,
        "cases": len(data.codes),
        "severe_cases": int(data.severe.sum()),
        "config": asdict(config),
        "folds": fold_reports,
        "wall_time_s": round(time.perf_counter() - started, 1),
        "demo": config.demo,
        "per_image_labels": str(image_labels)
        if image_labels
        else "case conditions (no per-image label file)",
        **(extra or {}),
    }
    if config.demo:
        summary["notice"] = DEMO_NOTICE
    done = ~np.isnan(oof)
    labels = data.severe.numpy()[done]
    if done.any() and 0 < labels.sum() < len(labels):
        summary["out_of_fold_auc"] = float(roc_auc_score(labels, oof[done]))
    (out_dir / "diagnosis.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return summary


def reproducibility_run(
    data_dir: Path, *, profile: str = "lite", seed: int = 0, cases: int = 24, image_size: int = 64
) -> dict[str, Any]:
    """A short deterministic training (fold 0 of 3, one epoch, one thread) and its exact metrics.

    Demo checkpoints record its result; a test reruns it and compares within 1e-6.
    """
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        config = TrainingConfig(
            profile=profile,
            folds=3,
            epochs=1,
            batch_size=8,
            image_size=image_size,
            seed=seed,
            max_cases=cases,
            progress=False,
        ).resolved()
        data, digest, _ = load_training_data(data_dir, config)
        train_index, val_index = _splits(data, config)[0]
        net, loss = train_fold(data, train_index, config, 0)
        metrics, severe_p = validate(net, data, val_index, "cpu")
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    return {
        "config": {
            "profile": profile,
            "seed": seed,
            "cases": cases,
            "image_size": image_size,
            "folds": 3,
            "fold": 0,
            "epochs": 1,
            "batch_size": 8,
            "threads": 1,
        },
        "data_hash": digest,
        "final_train_loss": loss,
        "validation_auc": metrics["auc"],
        "validation_mean_severe_probability": float(np.mean(severe_p)),
        "tolerance": 1e-6,
    }


def set_threads(threads: int | None) -> None:
    """Limit torch's intra-op threads (``None`` leaves the default)."""
    if threads:
        torch.set_num_threads(threads)
