"""DOTA-format detection data: reading, hashing, and the training set with Mosaic and Mixup."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from core.labels import ANATOMY_CLASSES, PLANE_QUALITY_HEADER
from inference.ncls.detection.boxes import canonical_np, from_corners
from inference.ncls.detection.preprocess import prepare_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


@dataclass
class Sample:
    """One prepared image: grey letterboxed input, normalised boxes (degrees), labels."""

    name: str
    image: np.ndarray  # (S, S) uint8
    boxes: np.ndarray  # (N, 5) float, normalised, angle in degrees, canonical
    labels: np.ndarray  # (N,) int64
    quality: np.ndarray | None = None  # (N,) score-target scale per box (None: all 1)

    def box_quality(self) -> np.ndarray:
        return np.ones(len(self.labels)) if self.quality is None else self.quality


def dota_root(path: str | Path) -> Path:
    """The folder holding ``images/`` and ``labelTxt/`` (``path`` itself or ``path/dota``)."""
    path = Path(path)
    for cand in (path, path / "dota"):
        if (cand / "images").is_dir() and (cand / "labelTxt").is_dir():
            return cand
    raise FileNotFoundError(
        f"{path}: no DOTA data (expected images/ and labelTxt/ in it or in dota/)"
    )


def parse_dota_label(
    text: str, classes: tuple[str, ...] = ANATOMY_CLASSES
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (pixel, canonical, degrees) and class indices of one DOTA v1 label file."""
    quads, labels = [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if len(parts) < 9 or parts[0].startswith(("imagesource", "gsd")):
            continue
        try:
            coords = [float(v) for v in parts[:8]]
        except ValueError as exc:
            raise ValueError(
                f"line {lineno}: corner coordinates are not numbers: {line.strip()!r}"
            ) from exc
        name = parts[8]
        if name not in classes:
            raise ValueError(f"line {lineno}: unknown class {name!r}")
        quads.append(np.asarray(coords).reshape(4, 2))
        labels.append(classes.index(name))
    if not quads:
        return np.zeros((0, 5)), np.zeros((0,), dtype=np.int64)
    return from_corners(np.stack(quads)), np.asarray(labels, dtype=np.int64)


def parse_plane_quality(text: str) -> float:
    """The ``plane-quality:Q`` header of a DOTA label file (1.0 when absent)."""
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith(PLANE_QUALITY_HEADER):
            try:
                q = float(line[len(PLANE_QUALITY_HEADER) :])
            except ValueError as exc:
                raise ValueError(
                    f"line {lineno}: plane quality is not a number: {line.strip()!r}"
                ) from exc
            if not 0.0 <= q <= 1.0:
                raise ValueError(f"line {lineno}: plane quality must be in [0, 1], got {q}")
            return q
    return 1.0


def list_pairs(root: str | Path) -> list[tuple[Path, Path]]:
    """(image, label) pairs of a DOTA folder, sorted by name; images without labels skipped."""
    base = dota_root(root)
    pairs = []
    for img in sorted((base / "images").iterdir()):
        if img.suffix.lower() in IMAGE_SUFFIXES:
            lab = base / "labelTxt" / f"{img.stem}.txt"
            if lab.exists():
                pairs.append((img, lab))
    if not pairs:
        raise FileNotFoundError(f"{base}: no labelled images")
    return pairs


def data_hash(pairs: list[tuple[Path, Path]]) -> str:
    """SHA-256 over names and bytes of all images and labels (order-independent of disk)."""
    digest = hashlib.sha256()
    for img, lab in pairs:
        for path in (img, lab):
            digest.update(path.name.encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def load_samples(pairs: list[tuple[Path, Path]], size: int) -> list[Sample]:
    """Read and prepare every image once (sector crop + letterbox, as at inference)."""
    samples = []
    for img_path, lab_path in pairs:
        image = cv2.imread(str(img_path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise ValueError(f"{img_path}: unreadable image")
        text = lab_path.read_text()
        boxes, labels = parse_dota_label(text)
        quality = np.full(len(labels), parse_plane_quality(text))
        prepared, lb = prepare_image(image, size)
        samples.append(Sample(img_path.stem, prepared, lb.to_model(boxes), labels, quality))
    return samples


class TrainSet(torch.utils.data.Dataset[tuple[torch.Tensor, dict[str, torch.Tensor]]]):
    """Training samples with Mosaic (2×2 at half scale), Mixup and grey-level jitter."""

    def __init__(
        self,
        samples: list[Sample],
        *,
        mosaic: float = 0.3,
        mixup: float = 0.15,
        seed: int = 0,
        quality_floor: float | np.ndarray = 1.0,
    ) -> None:
        self.samples = samples
        # one floor for every class, or one per class index
        self.quality_floor = np.broadcast_to(
            np.asarray(quality_floor, dtype=np.float64), (len(ANATOMY_CLASSES),)
        )
        self.mosaic = mosaic
        self.mixup = mixup
        self.rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self.samples)

    def _mosaic(self, first: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        size = self.samples[first].image.shape[0]
        half = size // 2
        canvas = np.zeros((size, size), dtype=np.uint8)
        boxes, labels, quality = [], [], []
        picks = [first] + [self.rng.randrange(len(self.samples)) for _ in range(3)]
        for k, idx in enumerate(picks):
            s = self.samples[idx]
            ox, oy = (k % 2) * half, (k // 2) * half
            canvas[oy : oy + half, ox : ox + half] = cv2.resize(
                s.image, (half, half), interpolation=cv2.INTER_AREA
            )
            b = s.boxes.copy()
            b[:, 0] = b[:, 0] * 0.5 + ox / size
            b[:, 1] = b[:, 1] * 0.5 + oy / size
            b[:, 2:4] *= 0.5
            boxes.append(b)
            labels.append(s.labels)
            quality.append(s.box_quality())
        return canvas, np.concatenate(boxes), np.concatenate(labels), np.concatenate(quality)

    def _plain(self, idx: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        s = self.samples[idx]
        return s.image, s.boxes, s.labels, s.box_quality()

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        image, boxes, labels, quality = (
            self._mosaic(idx) if self.rng.random() < self.mosaic else self._plain(idx)
        )
        img = image.astype(np.float32) / 255.0
        if self.rng.random() < self.mixup:
            other_img, other_boxes, other_labels, other_quality = self._plain(
                self.rng.randrange(len(self.samples))
            )
            lam = self.rng.uniform(0.4, 0.6)
            img = lam * img + (1 - lam) * other_img.astype(np.float32) / 255.0
            boxes = np.concatenate([boxes, other_boxes])
            labels = np.concatenate([labels, other_labels])
            quality = np.concatenate([quality, other_quality])
        # grey-level jitter: contrast, brightness, gamma
        img = np.clip(img * self.rng.uniform(0.8, 1.2) + self.rng.uniform(-0.08, 0.08), 0, 1)
        img = img ** self.rng.uniform(0.8, 1.25)
        floor = self.quality_floor[np.asarray(labels, dtype=np.int64)]
        quality = floor + (1.0 - floor) * quality
        return to_input(img), make_target(boxes, labels, quality)


def to_input(gray01: np.ndarray) -> torch.Tensor:
    """``(S, S)`` float grey image in [0, 1] → ``(3, S, S)`` tensor."""
    t = torch.from_numpy(np.ascontiguousarray(gray01, dtype=np.float32))
    return t[None].expand(3, -1, -1).contiguous()


def make_target(
    boxes: np.ndarray, labels: np.ndarray, quality: np.ndarray | None = None
) -> dict[str, torch.Tensor]:
    """Model target: boxes normalised with the angle in half-turns, canonical; labels; and
    per box the scale of its score target (the frame's plane quality; 1 when not given)."""
    b = (
        canonical_np(np.asarray(boxes, dtype=np.float64).reshape(-1, 5))
        if len(boxes)
        else np.zeros((0, 5))
    )
    b[:, 4] = b[:, 4] / 180.0
    q = np.ones(len(labels)) if quality is None else np.asarray(quality, dtype=np.float64)
    return {
        "boxes": torch.as_tensor(b, dtype=torch.float32),
        "labels": torch.as_tensor(labels, dtype=torch.long),
        "quality": torch.as_tensor(q, dtype=torch.float32),
    }


def collate(
    batch: list[tuple[torch.Tensor, dict[str, torch.Tensor]]],
) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    """Stack images; keep targets as a list."""
    return torch.stack([b[0] for b in batch]), [b[1] for b in batch]
