"""The published NCLS weights as a platform model directory (safetensors + JSON).

Why convert: the authors ship PyTorch pickles, which can only be read safely with the
restricted unpickler and say nothing about where they came from. The platform's own format
(``safetensors`` weights, which cannot carry code, and a JSON record with the SHA-256 of each
weights file, checked on every load) is what the rest of the platform trusts. Converting once,
with the SHA-256 of every source file recorded, gives a directory whose provenance is auditable
and whose weights are bit-for-bit those the authors published (only the container changes).

Layout of ``MODEL_DIR``::

    published.json        format, profile "published", provenance, sources and their SHA-256
    detector.safetensors  the RT-DETRv2 detector (our key names = the authors')
    fold_1.safetensors … fold_5.safetensors   the diagnosis folds
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from core.files import file_sha256

from .checkpoints import (
    build_published_detector,
    detector_state,
    diagnosis_state,
    load_state_strict,
)
from .diagnosis import (
    INPUT_SIZE,
    MAX_VIEWS,
    PIXEL_MEAN,
    PIXEL_STD,
    RESIZE_SHORT,
    PublishedDiagnosisNet,
    build_diagnosis,
)

__all__ = [
    "FOLDS",
    "FORMAT",
    "RECORD_NAME",
    "ModelDirError",
    "PublishedModels",
    "import_published",
    "load_published_model_dir",
]

FORMAT = "ncls-published/1"
RECORD_NAME = "published.json"
DETECTOR_WEIGHTS = "detector.safetensors"
#: The authors' five cross-validation folds, in order.
FOLDS: tuple[int, ...] = (1, 2, 3, 4, 5)
SOURCE_REPOSITORY = "https://github.com/Je1zzz/Neonatal_cerebral_lesions_screening_NCLS"
#: Case decision of the authors' code: severe when the mean severe probability reaches this.
SEVERE_THRESHOLD = 0.2
IMAGE_THRESHOLD = 0.5


class ModelDirError(ValueError):
    """A published model directory that is absent, incomplete, altered, or a refused output path."""


def _fold_source(diagnosis_dir: Path, fold: int) -> Path:
    return diagnosis_dir / f"fold_{fold}.pth"


def _save_weights(net: nn.Module, path: Path, network: str, source_sha: str) -> str:
    """Write ``net``'s weights as safetensors; return the file's SHA-256.

    Tensors are cloned so that none shares storage (safetensors refuses shared tensors).
    """
    state = {
        name: t.detach().to("cpu").clone().contiguous() for name, t in net.state_dict().items()
    }
    save_file(
        state,
        str(path),
        metadata={"format": FORMAT, "network": network, "source_sha256": source_sha},
    )
    return file_sha256(path)


def _source_entry(path: Path) -> dict[str, Any]:
    return {
        "file": path.name,
        "path": str(path.resolve()),
        "bytes": path.stat().st_size,
        "sha256": file_sha256(path),
    }


def _write_into(
    work: Path, detection: Path | None, diagnosis_dir: Path, command: str | None
) -> dict[str, Any]:
    """Convert every source into ``work``; return the JSON record (not yet written)."""
    folds = []
    for fold in FOLDS:
        source = _fold_source(diagnosis_dir, fold)
        net = build_diagnosis()
        load_state_strict(net, diagnosis_state(source), source, "published diagnosis network")
        entry = _source_entry(source)
        name = f"fold_{fold}.safetensors"
        folds.append(
            {
                "fold": fold,
                "weights": name,
                "sha256": _save_weights(net, work / name, "diagnosis", entry["sha256"]),
                "source": entry,
            }
        )
        del net
    detector: dict[str, Any] | None = None
    if detection is not None:
        state = detector_state(detection)
        det = build_published_detector()
        load_state_strict(det, state, detection, "published detector")
        del state
        entry = _source_entry(detection)
        detector = {
            "weights": DETECTOR_WEIGHTS,
            "sha256": _save_weights(det, work / DETECTOR_WEIGHTS, "detector", entry["sha256"]),
            "source": entry,
        }
    shas = [str(f["sha256"]) for f in folds] + ([str(detector["sha256"])] if detector else [])
    return {
        "format": FORMAT,
        "name": "ncls-published",
        "version": "ncls-published-" + hashlib.sha256("".join(shas).encode()).hexdigest()[:12],
        "profile": "published",
        "provenance": "published import",
        "source_repository": SOURCE_REPOSITORY,
        "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "torch": torch.__version__,
        "detector": detector,
        "diagnosis": {
            "folds": folds,
            "input": {
                "size": INPUT_SIZE,
                "resize_short_side": RESIZE_SHORT,
                "channels": "BGR",
                "mean": list(PIXEL_MEAN),
                "std": list(PIXEL_STD),
            },
            "max_views": MAX_VIEWS,
            "severe_threshold": SEVERE_THRESHOLD,
            "image_threshold": IMAGE_THRESHOLD,
        },
    }


def import_published(
    detection: Path | None, diagnosis_dir: Path, out: Path, *, command: str | None = None
) -> Path:
    """Convert the authors' files into the model directory ``out``; return its JSON path.

    ``detection`` is the detector checkpoint (``None`` converts the diagnosis folds only),
    ``diagnosis_dir`` holds ``fold_1.pth`` … ``fold_5.pth``. Every file is validated before
    anything appears at ``out``: the directory is built beside it and renamed into place, so a
    refused import leaves nothing behind. Raises :class:`CheckpointError` for a bad source
    and :class:`ModelDirError` when ``out`` already holds something.
    """
    out, diagnosis_dir = Path(out), Path(diagnosis_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ModelDirError(
            f"{out}: already exists and is not an empty directory; choose a new --out"
        )
    if not diagnosis_dir.is_dir():
        raise ModelDirError(
            f"{diagnosis_dir}: not a directory (expected fold_1.pth … fold_5.pth in it)"
        )
    absent = [p.name for p in (_fold_source(diagnosis_dir, k) for k in FOLDS) if not p.is_file()]
    if absent:
        raise ModelDirError(f"{diagnosis_dir}: missing {', '.join(absent)}")
    if detection is not None and not Path(detection).is_file():
        raise ModelDirError(f"{detection}: no such file (the detector checkpoint)")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    work.chmod(0o755)  # mkdtemp makes it private; the platform's workers must read the models
    try:
        record = _write_into(
            work, Path(detection) if detection is not None else None, diagnosis_dir, command
        )
        (work / RECORD_NAME).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out / RECORD_NAME


@dataclass(frozen=True)
class PublishedModels:
    """The networks of a published model directory (eval mode, CPU) and its JSON record."""

    directory: Path
    record: dict[str, Any]
    folds: tuple[PublishedDiagnosisNet, ...]
    detector: nn.Module | None

    @property
    def version(self) -> str:
        """Version string recorded at import (name and a hash of all weights files)."""
        return str(self.record["version"])


def _verified(directory: Path, entry: dict[str, Any]) -> Path:
    """The weights file of a record entry, after checking it exists and its SHA-256."""
    path = directory / str(entry["weights"])
    if not path.is_file():
        raise ModelDirError(f"{path}: weights file missing")
    actual = file_sha256(path)
    if actual != entry["sha256"]:
        raise ModelDirError(
            f"{path}: SHA-256 {actual} differs from {entry['sha256']} recorded in {RECORD_NAME}"
        )
    return path


def read_record(directory: str | Path) -> dict[str, Any]:
    """The ``published.json`` of ``directory``, after checking its format."""
    path = Path(directory) / RECORD_NAME
    if not path.is_file():
        raise ModelDirError(
            f"{directory}: not a published model directory ({RECORD_NAME} not found)"
        )
    try:
        record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelDirError(f"{path}: unreadable ({error})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        found = record.get("format") if isinstance(record, dict) else None
        raise ModelDirError(f"{path}: not a {FORMAT} record (format {found!r})")
    return record


def load_published_model_dir(
    path: str | Path, *, detector: bool = True, diagnosis: bool = True
) -> PublishedModels:
    """Load a directory written by :func:`import_published` (SHA-256 of every file verified).

    ``detector=False`` loads the diagnosis folds only (and does not read the detector file);
    ``diagnosis=False`` skips the folds (stage 1 alone needs only the detector).
    """
    directory = Path(path)
    record = read_record(directory)
    try:
        folds = []
        for entry in record["diagnosis"]["folds"] if diagnosis else []:
            weights = _verified(directory, entry)
            net = build_diagnosis()
            load_state_strict(net, load_file(str(weights)), weights, "published diagnosis network")
            folds.append(net.eval())
        loaded_detector: nn.Module | None = None
        if detector:
            if not record.get("detector"):
                raise ModelDirError(f"{directory}: this directory was imported without a detector")
            weights = _verified(directory, record["detector"])
            loaded_detector = build_published_detector()
            load_state_strict(
                loaded_detector, load_file(str(weights)), weights, "published detector"
            )
            loaded_detector.eval()
    except (KeyError, TypeError) as error:
        raise ModelDirError(f"{directory / RECORD_NAME}: incomplete record ({error!r})") from None
    return PublishedModels(
        directory=directory, record=record, folds=tuple(folds), detector=loaded_detector
    )
