"""Training of the rotated detector on DOTA-format data.

AdamW, linear warm-up then cosine decay, Mosaic and Mixup (Mosaic off for the last fifth of
the epochs, so the end of training sees frames as inference does), bf16 autocast on a
GPU, gradient clipping, a tqdm bar with loss and ETA. A held-out slice of the images
(by seed) gives the metrics recorded in the checkpoint.
"""

from __future__ import annotations

import contextlib
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from core.labels import ANATOMY_CLASSES
from inference.ncls.detection.checkpoint import CheckpointError, load_detector, save_detector
from inference.ncls.detection.data import (
    Sample,
    TrainSet,
    collate,
    data_hash,
    list_pairs,
    load_samples,
    to_input,
)
from inference.ncls.detection.evaluate import MapResult, calibrate_threshold, rotated_map
from inference.ncls.detection.loss import DetectionLoss
from inference.ncls.detection.model import (
    DetectorConfig,
    RotatedRTDETR,
    postprocess,
    profile_config,
)


@dataclass(frozen=True)
class TrainOptions:
    """Everything that decides a training run (recorded in the checkpoint JSON)."""

    data: str
    out: str
    profile: str = "lite"
    epochs: int = 12
    batch_size: int = 8
    seed: int = 0
    device: str = "cpu"
    lr: float = 4e-4
    weight_decay: float = 1e-4
    warmup_iters: int = 100
    val_fraction: float = 0.1
    mosaic: float = 0.2
    mixup: float = 0.15
    max_images: int | None = None
    threads: int | None = None
    max_minutes: float | None = None
    balance: bool = True
    workers: int = 0
    init: str | None = None  # start from this checkpoint's weights (same architecture)
    #: score target of a box = IoU × (floor + (1 − floor) × the label's plane quality).
    #: 1 (default, how the demo detector's first stage was trained): the target is the IoU. Lower
    #: floors make the score peak at the view's ideal plane; measured on the phantom (README
    #: of the demo detector): floor 0 collapses the coronal scores (near-identical frames on
    #: either side of the tolerance's edge get targets ~0 and 0), floor 0.5 centres the
    #: sagittal picks but finds the TVV less often; the shipped demo detector uses floor 0 for
    #: the sagittal classes only (``class_quality_floors``).
    quality_floor: float = 1.0
    #: per-class floors overriding ``quality_floor`` (class name → floor)
    class_quality_floors: tuple[tuple[str, float], ...] = ()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def quality_floors(opts: TrainOptions) -> np.ndarray:
    """Per-class plane-quality floors in class order, checked."""
    if not 0.0 <= opts.quality_floor <= 1.0:
        raise ValueError(f"quality floor must be in [0, 1], got {opts.quality_floor}")
    floors = np.full(len(ANATOMY_CLASSES), float(opts.quality_floor))
    for name, value in opts.class_quality_floors:
        if name not in ANATOMY_CLASSES:
            raise ValueError(f"quality floor for unknown class {name!r}")
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"quality floor of {name} must be in [0, 1], got {value}")
        floors[ANATOMY_CLASSES.index(name)] = float(value)
    return floors


def _seed_worker(worker_id: int) -> None:
    """Each loader worker draws its own augmentations (a worker gets a copy of the dataset,
    whose ``random.Random`` would otherwise repeat in every worker)."""
    info = torch.utils.data.get_worker_info()
    if info is not None:
        info.dataset.rng = random.Random(info.seed)  # type: ignore[attr-defined]


def lr_factor(step: int, total: int, warmup: int, floor: float = 0.05) -> float:
    """Linear warm-up to 1, then cosine decay to ``floor``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def rare_class_weights(samples: list[Sample], cap: float = 4.0) -> list[float]:
    """Sampling weight per image: images showing rare structures (the third ventricle is
    seen in few frames of a sweep) are drawn up to ``cap`` times as often."""
    counts = np.bincount(
        np.concatenate([s.labels for s in samples] or [np.zeros(0, np.int64)]), minlength=1
    ).astype(float)
    present = counts[counts > 0]
    if present.size == 0:
        return [1.0] * len(samples)
    ref = float(np.median(present))
    weights = []
    for s in samples:
        if len(s.labels) == 0:
            weights.append(1.0)
            continue
        w = max(np.sqrt(ref / counts[int(c)]) for c in s.labels)
        weights.append(float(np.clip(w, 1.0, cap)))
    return weights


@torch.inference_mode()
def predict_samples(
    model: RotatedRTDETR, samples: list[Sample], device: torch.device, batch_size: int = 8
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Normalised predictions (boxes in degrees) for prepared samples, every query kept."""
    model.eval()
    preds = []
    for i in range(0, len(samples), batch_size):
        chunk = samples[i : i + batch_size]
        batch = torch.stack([to_input(s.image.astype(np.float32) / 255.0) for s in chunk]).to(
            device
        )
        out = model(batch)
        for scores, labels, boxes in postprocess(out["logits"].float(), out["boxes"].float()):
            preds.append((boxes.cpu().numpy(), labels.cpu().numpy(), scores.cpu().numpy()))
    return preds


def evaluate_samples(
    model: RotatedRTDETR, samples: list[Sample], device: torch.device
) -> MapResult:
    """Rotated mAP@0.5 on prepared samples (boxes compared in the square input's frame)."""
    preds = predict_samples(model, samples, device)
    truths = [(s.boxes, s.labels) for s in samples]
    return rotated_map(preds, truths)


def train_detector(opts: TrainOptions, command: str | None = None) -> Path:
    """Train, evaluate on the held-out slice, save the checkpoint; return its JSON path."""
    start = time.time()
    if opts.threads:
        torch.set_num_threads(opts.threads)
    seed_everything(opts.seed)
    device = torch.device(opts.device)
    cfg = profile_config(opts.profile)
    pairs = list_pairs(opts.data)
    digest = data_hash(pairs)
    train_pairs, val_pairs = _split_pairs(pairs, opts)
    print(
        f"loading {len(train_pairs)} training and {len(val_pairs)} validation images "
        f"at {cfg.input_size}px",
        file=sys.stderr,
    )
    train_samples = load_samples(train_pairs, cfg.input_size)
    val_samples = load_samples(val_pairs, cfg.input_size)
    dataset = TrainSet(
        train_samples,
        mosaic=opts.mosaic,
        mixup=opts.mixup,
        seed=opts.seed,
        quality_floor=quality_floors(opts),
    )
    loader = _train_loader(dataset, train_samples, opts, device)
    model, init_record = _initial_model(opts, cfg, device)
    fit = _fit(model, dataset, loader, opts, device)
    train_seconds = time.time() - start
    metrics, threshold = _validate(model, val_samples, device)
    print(f"held-out mAP@0.5 = {metrics.get('map')}", file=sys.stderr)
    meta = {
        "command": command,
        "seed": opts.seed,
        "data_hash": digest,
        "data_images": len(pairs),
        # images whose labels gave a plane quality below 1 (score targets scaled by it)
        "plane_quality_images": sum(
            bool(s.quality is not None and (s.quality < 1).any())
            for s in train_samples + val_samples
        ),
        "train_images": len(train_samples),
        "val_images": len(val_samples),
        "options": {k: v for k, v in opts.__dict__.items() if k not in ("data", "out")},
        "init_from": init_record,
        "epoch_losses": fit.epoch_losses,
        "steps": fit.steps,
        "stopped_by_time_budget": fit.out_of_time,
        "train_seconds": round(train_seconds, 1),
        "device": str(device),
        "torch": torch.__version__,
        "metrics": {"validation": metrics},
        **({"score_threshold": threshold} if threshold is not None else {}),
        "note": "demo model trained on synthetic phantom data - not for clinical use",
    }
    model.cpu()
    return save_detector(model, opts.out, meta)


def _split_pairs(
    pairs: list[tuple[Path, Path]], opts: TrainOptions
) -> tuple[list[tuple[Path, Path]], list[tuple[Path, Path]]]:
    """Seeded training and held-out slices of the (image, label) pairs, each in name order."""
    rng = random.Random(opts.seed)
    order = list(range(len(pairs)))
    rng.shuffle(order)
    if opts.max_images:
        order = order[: opts.max_images]
    n_val = max(1, round(len(order) * opts.val_fraction)) if len(order) > 1 else 0
    val_pairs = [pairs[i] for i in sorted(order[:n_val])]
    train_pairs = [pairs[i] for i in sorted(order[n_val:])] or val_pairs
    return train_pairs, val_pairs


def _train_loader(
    dataset: TrainSet, samples: list[Sample], opts: TrainOptions, device: torch.device
) -> torch.utils.data.DataLoader:
    """Seeded loader over the training set, drawing rare structures more often if balanced."""
    gen = torch.Generator().manual_seed(opts.seed)
    sampler = (
        torch.utils.data.WeightedRandomSampler(
            rare_class_weights(samples), len(samples), replacement=True, generator=gen
        )
        if opts.balance
        else None
    )
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=opts.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        drop_last=len(dataset) > opts.batch_size,
        collate_fn=collate,
        generator=gen,
        num_workers=opts.workers,
        worker_init_fn=_seed_worker if opts.workers else None,
        pin_memory=device.type == "cuda",
    )


def _initial_model(
    opts: TrainOptions, cfg: DetectorConfig, device: torch.device
) -> tuple[RotatedRTDETR, dict[str, object] | None]:
    """A fresh model, or the ``--init`` checkpoint's (same architecture) with where it came from."""
    if not opts.init:
        return RotatedRTDETR(cfg).to(device), None
    model, record = load_detector(opts.init)
    if model.cfg != cfg:
        raise CheckpointError(
            f"{opts.init}: its architecture is not the {opts.profile!r} profile's"
        )
    init_record: dict[str, object] = {
        "path": str(opts.init),
        "weights_sha256": record.get("weights_sha256"),
        "steps": record.get("steps"),
        "data_hash": record.get("data_hash"),
    }
    return model.to(device), init_record


@dataclass(frozen=True)
class _Fit:
    """What the training loop did: mean loss per epoch, optimiser steps, time budget hit."""

    epoch_losses: list[float]
    steps: int
    out_of_time: bool


def _time_budget_schedule(
    optim: torch.optim.Optimizer,
    total: int,
    warmup: int,
    budget_s: float | None,
    t_train: float,
) -> torch.optim.lr_scheduler.LambdaLR:
    """Warm-up then cosine; under a time budget (counted from ``t_train``) it follows
    whichever is further along: steps or time (the cosine is at its floor when it is spent)."""

    def schedule(step: int) -> float:
        """Learning-rate factor at an optimiser step."""
        if budget_s is None or step < warmup:
            return lr_factor(step, total, warmup)
        by_time = warmup + (total - warmup) * min(1.0, (time.time() - t_train) / budget_s)
        return lr_factor(max(step, int(by_time)), total, warmup)

    return torch.optim.lr_scheduler.LambdaLR(optim, schedule)


def _fit(
    model: RotatedRTDETR,
    dataset: TrainSet,
    loader: torch.utils.data.DataLoader,
    opts: TrainOptions,
    device: torch.device,
) -> _Fit:
    """The training loop: AdamW, mosaic and mixup closed for the last fifth, time budget."""
    criterion = DetectionLoss(model.cfg.num_classes)
    # foreach: one fused update over all parameters (the per-tensor loop costs ~10 % of a CPU step)
    optim = torch.optim.AdamW(
        model.parameters(), lr=opts.lr, weight_decay=opts.weight_decay, foreach=True
    )
    total = opts.epochs * len(loader)
    warmup = min(opts.warmup_iters, max(1, total // 10))
    # Training stops when the time budget is spent.
    budget_s = opts.max_minutes * 60.0 if opts.max_minutes else None
    t_train = time.time()
    sched = _time_budget_schedule(optim, total, warmup, budget_s, t_train)
    amp = (
        torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        if device.type == "cuda"
        else contextlib.nullcontext()
    )
    close_mosaic = max(1, opts.epochs - max(1, opts.epochs // 5))
    # under a time budget the step count is not known in advance: the bar shows the time left
    bar = tqdm(
        total=None if budget_s else total,
        desc=f"train {opts.profile}",
        unit="it",
        dynamic_ncols=True,
        file=sys.stderr,
    )
    history = []
    out_of_time = False
    for epoch in range(opts.epochs):
        if out_of_time:
            break
        model.train()
        late = budget_s is not None and time.time() - t_train > 0.8 * budget_s
        if epoch >= close_mosaic or late:
            dataset.mosaic = 0.0
            dataset.mixup = 0.0
        running = 0.0
        for step, (images, targets) in enumerate(loader):
            images = images.to(device, non_blocking=True)
            targets = [{k: v.to(device, non_blocking=True) for k, v in t.items()} for t in targets]
            running += _train_step(model, criterion, optim, sched, amp, images, targets)
            bar.set_postfix(
                epoch=epoch + 1,
                loss=f"{running / (step + 1):.3f}",
                lr=f"{sched.get_last_lr()[0]:.1e}",
                **_time_left(budget_s, t_train),
            )
            bar.update(1)
            if budget_s is not None and time.time() - t_train > budget_s:
                out_of_time = True
                break
        history.append(round(running / max(1, len(loader)), 4))
    bar.close()
    return _Fit(epoch_losses=history, steps=bar.n, out_of_time=out_of_time)


def _time_left(budget_s: float | None, t_train: float) -> dict[str, str]:
    """The progress bar's "left" field under a time budget (nothing without one)."""
    if budget_s is None:
        return {}
    return {"left": f"{max(0.0, budget_s - (time.time() - t_train)) / 60:.1f}min"}


def _train_step(
    model: RotatedRTDETR,
    criterion: DetectionLoss,
    optim: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LambdaLR,
    amp: contextlib.AbstractContextManager[object],
    images: torch.Tensor,
    targets: list[dict[str, torch.Tensor]],
) -> float:
    """One optimiser step on a batch (gradients clipped at 0.1); the batch's loss."""
    with amp:
        out = model(images, targets)
    loss, _ = criterion(out, targets)
    optim.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
    optim.step()
    sched.step()
    return float(loss.detach())


def _validate(
    model: RotatedRTDETR, samples: list[Sample], device: torch.device
) -> tuple[dict[str, object], float | None]:
    """Held-out rotated mAP and F1 by score threshold, and the calibrated threshold."""
    if not samples:
        return {}, None
    preds = predict_samples(model, samples, device)
    truths = [(s.boxes, s.labels) for s in samples]
    metrics: dict[str, object] = rotated_map(preds, truths).to_json()
    threshold, f1 = calibrate_threshold(preds, truths)
    metrics["f1_by_threshold"] = {str(k): v for k, v in f1.items()}
    return metrics, threshold
