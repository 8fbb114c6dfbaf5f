"""Fold checkpoints: weights as safetensors, everything else in a JSON beside them.

The JSON records the architecture, labels, validation metrics, data hash and the
SHA-256 of the weights file; loading refuses weights whose hash differs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from core.files import file_sha256

from .model import Architecture, DiagnosisNet

FORMAT = "ncls-diagnosis/1"
#: What every demo model and everything it produces says about itself.
DEMO_NOTICE = "demo model — not for clinical use"


class ChecksumError(ValueError):
    """A checkpoint's weights do not match the SHA-256 recorded in its JSON."""


@dataclass(frozen=True)
class FoldModel:
    """A loaded fold network with its metadata."""

    net: DiagnosisNet
    metadata: dict[str, Any]
    json_path: Path

    @property
    def version(self) -> str:
        """Model version string: name, profile, fold and the first 12 hex of the weights' hash."""
        return str(self.metadata["version"])


def save_fold(net: DiagnosisNet, directory: Path, fold: int, metadata: dict[str, Any]) -> Path:
    """Write ``fold_<k>.safetensors`` and ``fold_<k>.json``; return the JSON path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / f"fold_{fold}.safetensors"
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in net.state_dict().items()}
    save_file(state, str(weights), metadata={"format": FORMAT})
    sha = file_sha256(weights)
    profile = net.architecture.profile
    document = {
        "format": FORMAT,
        "name": "ncls-diagnosis",
        "version": f"ncls-diagnosis-{profile}-fold{fold}-{sha[:12]}",
        "profile": profile,
        "architecture": net.architecture.to_json(),
        "image_labels": list(net.architecture.image_labels),
        "views": list(net.architecture.views),
        "fold": fold,
        "weights": weights.name,
        "sha256": sha,
        **metadata,
    }
    if document.get("demo"):
        document["notice"] = DEMO_NOTICE
    path = directory / f"fold_{fold}.json"
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def load_fold(json_path: Path, device: str | torch.device = "cpu") -> FoldModel:
    """Load one fold; raise :class:`ChecksumError` if the weights were changed."""
    json_path = Path(json_path)
    metadata = json.loads(json_path.read_text(encoding="utf-8"))
    if metadata.get("format") != FORMAT:
        raise ValueError(
            f"{json_path}: not a diagnosis checkpoint (format {metadata.get('format')!r})"
        )
    weights = json_path.parent / metadata["weights"]
    actual = file_sha256(weights)
    if actual != metadata["sha256"]:
        raise ChecksumError(
            f"{weights}: SHA-256 {actual} differs from {metadata['sha256']} "
            f"recorded in {json_path.name}"
        )
    net = DiagnosisNet(Architecture.from_json(metadata["architecture"]))
    net.load_state_dict(load_file(str(weights)))
    net.to(device).eval()
    return FoldModel(net=net, metadata=metadata, json_path=json_path)


def fold_jsons(directory: Path) -> list[Path]:
    """The fold JSON files of a model directory, in fold order; ``ValueError`` if none."""
    found = sorted(Path(directory).glob("fold_*.json"), key=lambda p: int(p.stem.split("_")[1]))
    if not found:
        raise ValueError(f"no diagnosis fold checkpoint (fold_*.json) in {directory}")
    return found
