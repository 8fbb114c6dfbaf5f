"""Detector checkpoints: ``detector.safetensors`` plus ``detector.json``.

The JSON holds the architecture (profile and every size), the classes in index order, the
angle convention, the training data's hash, the command and seed, metrics, and the
SHA-256 of the weights file, which :func:`load_detector` checks. Only local files are read;
nothing is ever downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from core.files import file_sha256
from core.labels import ANATOMY_CLASSES
from inference.ncls.detection.boxes import ANGLE_CONVENTION
from inference.ncls.detection.model import DetectorConfig, RotatedRTDETR

WEIGHTS_NAME = "detector.safetensors"
META_NAME = "detector.json"
FORMAT = "ncls-rotated-rtdetr/1"


class CheckpointError(ValueError):
    """A checkpoint that is missing, altered, or for other classes or another convention."""


def save_detector(
    model: RotatedRTDETR, out_dir: str | Path, meta: dict[str, Any], *, half: bool = True
) -> Path:
    """Write weights (fp16 by default, for small demo checkpoints) and JSON; return its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu().contiguous()
        state[k] = v.half() if half and v.is_floating_point() else v
    weights = out / WEIGHTS_NAME
    save_file(state, str(weights))
    record = {
        "format": FORMAT,
        "architecture": model.cfg.to_dict(),
        "profile": model.cfg.profile,
        "classes": list(ANATOMY_CLASSES),
        "angle_convention": ANGLE_CONVENTION,
        "weights_file": WEIGHTS_NAME,
        "weights_dtype": "float16" if half else "float32",
        **meta,
        "weights_sha256": file_sha256(weights),
    }
    path = out / META_NAME
    path.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n")
    return path


def resolve(path: str | Path) -> tuple[Path, Path]:
    """(json, weights) paths of a checkpoint given its folder, JSON or weights file."""
    p = Path(path)
    if p.is_dir():
        meta = p / META_NAME
    elif p.suffix == ".safetensors":
        meta = p.with_suffix(".json")
    else:
        meta = p
    if not meta.is_file():
        raise CheckpointError(f"{path}: no detector checkpoint ({META_NAME} not found)")
    record = json.loads(meta.read_text())
    weights = meta.parent / record.get("weights_file", WEIGHTS_NAME)
    if not weights.is_file():
        raise CheckpointError(f"{meta}: weights file {weights.name} is missing")
    return meta, weights


def load_detector(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[RotatedRTDETR, dict[str, Any]]:
    """Model (eval mode, float32) and its JSON record, after checking hash, classes, angle."""
    meta_path, weights = resolve(path)
    record = json.loads(meta_path.read_text())
    if record.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path}: not a {FORMAT} checkpoint")
    if file_sha256(weights) != record.get("weights_sha256"):
        raise CheckpointError(f"{weights}: SHA-256 does not match {meta_path.name}")
    if tuple(record.get("classes", ())) != ANATOMY_CLASSES:
        raise CheckpointError(f"{meta_path}: trained for other classes {record.get('classes')}")
    if record.get("angle_convention") != ANGLE_CONVENTION:
        raise CheckpointError(
            f"{meta_path}: angle convention {record.get('angle_convention')!r} is not ours"
        )
    cfg = DetectorConfig.from_dict(record["architecture"])
    model = RotatedRTDETR(cfg)
    state = {
        k: v.float() if v.is_floating_point() else v for k, v in load_file(str(weights)).items()
    }
    model.load_state_dict(state)
    return model.to(device).eval(), record
