"""Tiny drawn cases for tests and smoke runs (not the phantom: no anatomy, just a fan and blobs).

Each case gets a manifest row (the platform's columns) and up to six PNG view images: a
grey speckled fan on black with a text bar above it; severe cases carry bright blobs and
wide dark ventricles, so that a small network can learn them in a few steps.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from core.labels import MANIFEST_COLUMNS, View

#: (conditions, IVH grade) of the toy cases, cycled through.
TOY_CASES: tuple[tuple[str, str], ...] = (
    ("normal", ""),
    ("pvl", ""),
    ("ivh", "1"),
    ("ivh;ventricular_dilation", "3"),
    ("ependymal_cyst", ""),
    ("hydrocephalus;ventricular_dilation", ""),
)


def draw_view(
    rng: np.random.Generator, severe: bool, height: int = 160, width: int = 200
) -> np.ndarray:
    """One toy view image (H×W×3 uint8)."""
    image = np.zeros((height, width, 3), np.uint8)
    fan = np.zeros((height, width), np.uint8)
    centre = (width // 2, -20)
    cv2.ellipse(fan, centre, (height, height), 0, 50, 130, 1, thickness=-1)
    speckle = rng.normal(80, 20, (height, width)).clip(20, 255).astype(np.uint8)
    gray = np.where(fan > 0, speckle, 0).astype(np.uint8)
    ventricle = 16 if severe else 4
    for dx in (-25, 25):
        cv2.ellipse(
            gray, (width // 2 + dx, height // 2), (ventricle, ventricle * 2), 0, 0, 360, 10, -1
        )
    if severe:
        for _ in range(3):
            x, y = (
                int(rng.integers(width // 3, 2 * width // 3)),
                int(rng.integers(height // 3, 3 * height // 4)),
            )
            cv2.circle(gray, (x, y), int(rng.integers(12, 18)), 240, -1)
    gray = np.where(fan > 0, gray, 0).astype(np.uint8)
    cv2.putText(gray, "TOY 12:00", (2, 10), cv2.FONT_HERSHEY_SIMPLEX, 0.3, 200, 1)
    image[...] = gray[..., None]
    return image


def write_toy_manifest(directory: Path, cases: int = 12, *, seed: int = 0) -> Path:
    """Write ``cases`` toy cases under ``directory``; return the manifest path."""
    directory = Path(directory)
    (directory / "views").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(cases):
        conditions, grade = TOY_CASES[index % len(TOY_CASES)]
        severe = "pvl" in conditions or "hydrocephalus" in conditions or grade in {"3", "4"}
        row = dict.fromkeys(MANIFEST_COLUMNS, "")
        row.update(
            code=f"TOY{index:03d}",
            dataset="toy",
            dataset_kind="internal",
            conditions=conditions,
            ivh_grade=grade,
            excluded="0",
        )
        views = list(View)[: 4 + index % 3]
        for view in views:
            name = f"views/TOY{index:03d}_{view.value}.png"
            cv2.imwrite(str(directory / name), draw_view(rng, severe))
            row[f"view_{view.value}"] = name
        rows.append(row)
    manifest = directory / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(MANIFEST_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return manifest
