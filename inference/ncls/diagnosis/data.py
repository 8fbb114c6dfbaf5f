"""Training data for the diagnosis model: the case manifest, view images and their labels.

The manifest is the platform's case CSV (columns :data:`~core.labels.MANIFEST_COLUMNS`);
view images are the ``view_<VIEW>`` paths, relative to the manifest. The case label is
``severe`` as computed by :func:`~core.labels.is_severe`.

Per-image labels: when no per-image label file is given, **every view image of a case is
labelled with the case's conditions** (a case with IVH labels all its views IVH). A label
file (CSV with columns ``code``, ``view``, ``conditions``; ';'-separated) overrides that for
the images it lists.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from core.labels import (
    IMAGE_LABELS,
    MANIFEST_COLUMNS,
    Condition,
    View,
    is_severe,
    parse_conditions,
)
from core.roi import crop_sector

from .model import NUM_SLOTS, PIXEL_MEAN, PIXEL_STD, VIEW_SLOTS


@dataclass(frozen=True)
class CaseRecord:
    """One manifest row, reduced to what diagnosis training needs."""

    code: str
    dataset_kind: str
    conditions: frozenset[Condition]
    ivh_grade: int | None
    severe: bool
    excluded: bool
    views: Mapping[View, Path]


def _conditions_of(text: str) -> frozenset[Condition]:
    found = parse_conditions(text.split(";"))
    return found or frozenset({Condition.NORMAL})


def read_manifest(path: Path) -> list[CaseRecord]:
    """Read a case manifest; raise ``ValueError`` naming a missing column or bad row."""
    path = Path(path)
    root = path.parent
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [
            c for c in ("code", "conditions", "ivh_grade") if c not in (reader.fieldnames or [])
        ]
        if missing:
            raise ValueError(
                f"{path}: missing manifest column(s) {missing}; expected {list(MANIFEST_COLUMNS)}"
            )
        records = []
        for line, row in enumerate(reader, start=2):
            try:
                grade_text = (row.get("ivh_grade") or "").strip()
                grade = int(float(grade_text)) if grade_text else None
                conditions = _conditions_of(row.get("conditions") or "")
                severe = is_severe([c.value for c in conditions if c != Condition.NORMAL], grade)
            except ValueError as error:
                raise ValueError(f"{path}, line {line}: {error}") from None
            views = {
                view: root / row[f"view_{view.value}"].strip()
                for view in View
                if (row.get(f"view_{view.value}") or "").strip()
            }
            records.append(
                CaseRecord(
                    code=row["code"].strip(),
                    dataset_kind=(row.get("dataset_kind") or "").strip(),
                    conditions=conditions,
                    ivh_grade=grade,
                    severe=severe,
                    excluded=(row.get("excluded") or "0").strip() in {"1", "true", "True"},
                    views=views,
                )
            )
    return records


def read_image_labels(path: Path) -> dict[tuple[str, View], frozenset[Condition]]:
    """Read a per-image label file (``code``, ``view``, ``conditions``)."""
    labels = {}
    with Path(path).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            labels[(row["code"].strip(), View(row["view"].strip()))] = _conditions_of(
                row["conditions"]
            )
    return labels


def multi_hot(conditions: Iterable[Condition]) -> np.ndarray:
    """Image-head target vector in :data:`IMAGE_LABELS` order."""
    found = set(conditions)
    return np.array([1.0 if label in found else 0.0 for label in IMAGE_LABELS], dtype=np.float32)


def load_rgb(path: Path) -> np.ndarray:
    """Read an image file as H×W×3 uint8 RGB; raise ``ValueError`` if unreadable."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def parse_view(name: View | str) -> View:
    """The standard view named ``name`` (any case), or ``ValueError`` naming the allowed ones."""
    try:
        return View(str(name).upper())
    except ValueError:
        raise ValueError(
            f"unknown view {name!r} (allowed: {', '.join(v.value for v in View)})"
        ) from None


def prepare_view(frame: np.ndarray, size: int) -> np.ndarray:
    """Crop the largest non-black region (the sector) and resize to ``size``×``size``.

    Returns 3×size×size uint8 (RGB). Grey frames are replicated to three channels.
    """
    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=2)
    if frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise ValueError(f"view frame must be H×W or H×W×3, got shape {frame.shape}")
    frame = np.ascontiguousarray(frame[..., :3].astype(np.uint8))
    cropped, _ = crop_sector(frame)
    resized = cv2.resize(cropped, (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(resized.transpose(2, 0, 1))


def normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 (or 0–255 float) pixels → the network's input scale."""
    return (images.float() / 255.0 - PIXEL_MEAN) / PIXEL_STD


def stack_views(views: Mapping[View, np.ndarray], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Prepared 3×S×S uint8 views of one case → (6×3×S×S uint8 tensor, 6 bool mask)."""
    images = torch.zeros(NUM_SLOTS, 3, size, size, dtype=torch.uint8)
    mask = torch.zeros(NUM_SLOTS, dtype=torch.bool)
    for slot, view in enumerate(VIEW_SLOTS):
        if view in views:
            images[slot] = torch.from_numpy(views[view])
            mask[slot] = True
    return images, mask


@dataclass
class CaseTensors:
    """A data set held in memory: images N×6×3×S×S uint8, masks, image targets, case labels."""

    codes: list[str]
    images: torch.Tensor
    masks: torch.Tensor
    image_targets: torch.Tensor  # N×6×L float
    severe: torch.Tensor  # N long


def load_cases(
    records: list[CaseRecord],
    size: int,
    image_labels: Mapping[tuple[str, View], frozenset[Condition]] | None = None,
) -> CaseTensors:
    """Read, crop and resize every view image of ``records`` (cases with no view are dropped)."""
    codes, images, masks, targets, severe = [], [], [], [], []
    for record in records:
        prepared = {}
        for view, path in record.views.items():
            try:
                prepared[view] = prepare_view(load_rgb(path), size)
            except ValueError:
                continue  # an unreadable or black image is a missing view
        if not prepared:
            continue
        stacked, mask = stack_views(prepared, size)
        target = np.stack(
            [
                multi_hot((image_labels or {}).get((record.code, view), record.conditions))
                for view in VIEW_SLOTS
            ]
        )
        codes.append(record.code)
        images.append(stacked)
        masks.append(mask)
        targets.append(torch.from_numpy(target))
        severe.append(int(record.severe))
    if not codes:
        raise ValueError("no case with a readable view image")
    return CaseTensors(
        codes=codes,
        images=torch.stack(images),
        masks=torch.stack(masks),
        image_targets=torch.stack(targets),
        severe=torch.tensor(severe, dtype=torch.long),
    )


def data_hash(manifest: Path, records: Iterable[CaseRecord]) -> str:
    """SHA-256 over the manifest and every view image it names (in a fixed order)."""
    digest = hashlib.sha256()
    digest.update(Path(manifest).read_bytes())
    for record in sorted(records, key=lambda r: r.code):
        for view in VIEW_SLOTS:
            if view in record.views and record.views[view].is_file():
                digest.update(f"{record.code}/{view.value}".encode())
                digest.update(record.views[view].read_bytes())
    return digest.hexdigest()
