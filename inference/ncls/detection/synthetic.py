"""Tiny synthetic sweeps (a fan with rotated ellipses) for tests and benchmarks.

Not the phantom: just enough structure, with truth known by construction, to exercise the
detector, training loop and view extraction without any other package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.labels import ANATOMY_CLASSES, View
from inference.ncls.detection.boxes import canonical_np, to_dota_line

# Per view: (class name, cx, cy, w, h, angle, grey level), in a 1×1 sector frame.
_LAYOUT: dict[View, list[tuple[str, float, float, float, float, float, int]]] = {
    View.AHV: [
        ("cor_corpus_callosum", 0.5, 0.35, 0.30, 0.06, 0, 220),
        ("cor_anterior_horn", 0.40, 0.45, 0.12, 0.05, 35, 20),
        ("cor_anterior_horn", 0.60, 0.45, 0.12, 0.05, -35, 20),
    ],
    View.TVV: [
        ("cor_corpus_callosum", 0.5, 0.33, 0.30, 0.06, 0, 220),
        ("cor_anterior_horn", 0.40, 0.42, 0.12, 0.05, 35, 20),
        ("cor_anterior_horn", 0.60, 0.42, 0.12, 0.05, -35, 20),
        ("cor_third_ventricle", 0.5, 0.58, 0.14, 0.035, 90, 10),
        ("cor_thalamus", 0.38, 0.62, 0.14, 0.10, 70, 150),
        ("cor_thalamus", 0.62, 0.62, 0.14, 0.10, -70, 150),
    ],
    View.BV: [
        ("cor_lateral_ventricle", 0.38, 0.45, 0.22, 0.08, 25, 15),
        ("cor_lateral_ventricle", 0.62, 0.45, 0.22, 0.08, -25, 15),
    ],
    View.MSV: [
        ("sag_corpus_callosum", 0.5, 0.35, 0.40, 0.07, -8, 210),
        ("sag_trigone", 0.35, 0.55, 0.10, 0.10, 0, 120),
        ("sag_cerebellum", 0.68, 0.70, 0.18, 0.14, 30, 180),
    ],
    View.RPSV: [
        ("sag_lateral_ventricle", 0.5, 0.45, 0.36, 0.09, 15, 15),
        ("sag_thalamus", 0.48, 0.62, 0.16, 0.11, -20, 160),
    ],
    View.LPSV: [
        ("sag_lateral_ventricle", 0.5, 0.45, 0.36, 0.09, -15, 15),
        ("sag_thalamus", 0.52, 0.62, 0.16, 0.11, 20, 160),
    ],
}

CORONAL_ORDER = (View.AHV, View.TVV, View.BV)
SAGITTAL_ORDER = (View.RPSV, View.MSV, View.LPSV)


def _fan(h: int, w: int) -> np.ndarray:
    mask = np.zeros((h, w), dtype=np.uint8)
    apex = (w // 2, -h // 3)
    r0, r1 = int(h * 0.4), int(h * 1.3)
    cv2.ellipse(mask, apex, (r1, r1), 90, -38, 38, 1, -1)
    cv2.ellipse(mask, apex, (r0, r0), 90, -38, 38, 0, -1)
    return mask.astype(bool)


@dataclass(frozen=True)
class SyntheticFrame:
    """A rendered frame (RGB) and its truth: boxes ``(N, 5)`` in pixels and class indices."""

    image: np.ndarray
    boxes: np.ndarray
    classes: np.ndarray


def render(
    view: View | None,
    rng: np.random.Generator,
    size: tuple[int, int] = (240, 320),
    *,
    strength: float = 1.0,
    jitter: float = 0.01,
    text: bool = True,
) -> SyntheticFrame:
    """One frame of ``view`` (None: no anatomy) with speckle, optional burned-in text."""
    h, w = size
    fan = _fan(h, w)
    img = rng.normal(70, 18, size=(h, w)).clip(10, 255)
    boxes, classes = [], []
    if view is not None:
        for name, cx, cy, bw, bh, ang, grey in _LAYOUT[view]:
            cx, cy = (cx + rng.normal(0, jitter)) * w, (cy + rng.normal(0, jitter)) * h
            bw, bh = bw * w * strength, bh * h * max(strength, 0.6)
            ang = ang + rng.normal(0, 2)
            layer = np.zeros((h, w), dtype=np.uint8)
            cv2.ellipse(layer, ((cx, cy), (bw, bh), ang), 1, -1)
            img = np.where(layer > 0, grey + rng.normal(0, 8, size=(h, w)), img)
            boxes.append((cx, cy, bw, bh, ang))
            classes.append(ANATOMY_CLASSES.index(name))
    img = cv2.GaussianBlur(img.astype(np.float32), (3, 3), 0)
    img = np.where(fan, np.clip(img, 12, 255), 0).astype(np.uint8)
    rgb = np.repeat(img[..., None], 3, axis=2)
    if text:
        cv2.putText(rgb, "LOGIQ E9", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
    box_arr = canonical_np(np.asarray(boxes, dtype=np.float64).reshape(-1, 5))
    return SyntheticFrame(rgb, box_arr, np.asarray(classes, dtype=np.int64))


def sweep_plan(orientation: str, frames: int) -> tuple[list[View | None], dict[View, int]]:
    """Per frame the view shown (None between views) and the ideal frame of each view."""
    order = CORONAL_ORDER if orientation == "coronal" else SAGITTAL_ORDER
    plan: list[View | None] = [None] * frames
    ideal = {}
    span = frames / (len(order) + 1)
    for k, view in enumerate(order):
        centre = round(span * (k + 1))
        half = max(3, int(span * 0.3))
        for f in range(max(0, centre - half), min(frames, centre + half + 1)):
            plan[f] = view
        ideal[view] = centre
    return plan, ideal


def write_sweep(
    path: str | Path,
    orientation: str,
    frames: int = 60,
    *,
    seed: int = 0,
    fps: float = 25.0,
    size: tuple[int, int] = (240, 320),
) -> dict[View, int]:
    """Write an MP4 sweep and return the ideal frame per view."""
    rng = np.random.default_rng(seed)
    plan, ideal = sweep_plan(orientation, frames)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (size[1], size[0]))
    for f, view in enumerate(plan):
        strength = 1.0
        if view is not None:
            strength = 1.0 - 0.3 * abs(f - ideal[view]) / max(1, frames / 8)
        frame = render(view, rng, size, strength=strength)
        writer.write(cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
    writer.release()
    return ideal


def write_dota(
    out_dir: str | Path, count: int, *, seed: int = 0, size: tuple[int, int] = (240, 320)
) -> Path:
    """Write ``count`` labelled frames of random views as DOTA data; return the folder."""
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labelTxt").mkdir(parents=True, exist_ok=True)
    views = list(View)
    for i in range(count):
        frame = render(views[i % len(views)], rng, size, strength=float(rng.uniform(0.8, 1.0)))
        cv2.imwrite(str(out / "images" / f"s{i:05d}.png"), frame.image[..., 0])
        lines = [
            to_dota_line(b, ANATOMY_CLASSES[int(c)])
            for b, c in zip(frame.boxes, frame.classes, strict=True)
        ]
        (out / "labelTxt" / f"s{i:05d}.txt").write_text("\n".join(lines) + "\n")
    return out
