"""Contact sheets: frames of a phantom video with their truth boxes, for a person to look."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import cv2
import numpy as np

from core.labels import ANATOMY_CLASSES
from inference.phantom.geometry import box_corners

#: One colour (BGR) per anatomy class.
CLASS_COLOURS: tuple[tuple[int, int, int], ...] = (
    (60, 180, 255),
    (80, 255, 80),
    (255, 120, 60),
    (255, 255, 0),
    (200, 80, 255),
    (60, 180, 255),
    (0, 220, 255),
    (255, 255, 0),
    (120, 255, 180),
    (200, 80, 255),
)
_SHORT = {
    "cor_corpus_callosum": "CC",
    "cor_anterior_horn": "AH",
    "cor_third_ventricle": "3V",
    "cor_lateral_ventricle": "LV",
    "cor_thalamus": "Th",
    "sag_corpus_callosum": "CC",
    "sag_trigone": "Tri",
    "sag_lateral_ventricle": "LV",
    "sag_cerebellum": "Cb",
    "sag_thalamus": "Th",
}


def read_video(path: Path) -> np.ndarray:
    """All frames of a video as uint8 grey (T, H, W)."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    finally:
        cap.release()
    if not frames:
        raise ValueError(f"no frames could be read from {path}")
    return np.stack(frames)


def truth_for_video(video: Path) -> tuple[dict[str, object], str]:
    """The truth JSON of a phantom video (``<dir>/truth/<code>.json``) and its orientation."""
    match = re.fullmatch(r"(.+?)_(coronal|sagittal_left|sagittal_right|sagittal)\.mp4", video.name)
    if not match:
        raise ValueError(
            "not a phantom video name (<code>_<coronal|sagittal|sagittal_left|"
            f"sagittal_right>.mp4): {video.name}"
        )
    code, orientation = match.groups()
    path = video.resolve().parent.parent / "truth" / f"{code}.json"
    if not path.exists():
        raise ValueError(f"truth file not found: {path}")
    return json.loads(path.read_text()), orientation


def draw_truth(frame: np.ndarray, frame_truth: dict[str, object]) -> np.ndarray:
    """A BGR copy of a grey frame with its truth boxes and view drawn on."""
    out = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    boxes = frame_truth.get("boxes", [])
    assert isinstance(boxes, list)
    for b in boxes:
        colour = CLASS_COLOURS[int(b["class_index"])]
        pts = box_corners(b["cx"], b["cy"], b["w"], b["h"], b["angle_deg"])
        cv2.polylines(out, [np.round(pts).astype(np.int32)], True, colour, 2, cv2.LINE_AA)
        cv2.circle(out, (round(pts[0, 0]), round(pts[0, 1])), 3, colour, -1)
        name = _SHORT.get(ANATOMY_CLASSES[int(b["class_index"])], "?")
        cv2.putText(
            out,
            name,
            (int(b["cx"]) - 8, int(b["cy"]) + 5),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            colour,
            1,
            cv2.LINE_AA,
        )
    label = f"#{frame_truth['index']}"
    if frame_truth.get("view"):
        label += f" {frame_truth['view']} {float(frame_truth['closeness']):.2f}"  # type: ignore[arg-type]
    cv2.putText(
        out,
        label,
        (8, out.shape[0] - 10),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.8,
        (0, 255, 255),
        2,
        cv2.LINE_AA,
    )
    return out


def contact_sheet(
    frames: np.ndarray,
    frame_truths: list[dict[str, object]],
    *,
    tiles: int = 12,
    columns: int = 4,
    tile_width: int = 320,
    must_include: tuple[int, ...] = (),
) -> np.ndarray:
    """A grid of evenly spaced frames (plus ``must_include``) with their truth (BGR)."""
    n = frames.shape[0]
    picks = set(np.linspace(0, n - 1, max(1, tiles - len(must_include))).round().astype(int))
    picks |= {i for i in must_include if 0 <= i < n}
    order = sorted(picks)[: max(tiles, len(must_include))]
    h, w = frames.shape[1:3]
    tile_h = round(h * tile_width / w)
    rows = math.ceil(len(order) / columns)
    sheet = np.zeros((rows * tile_h, columns * tile_width, 3), dtype=np.uint8)
    for k, i in enumerate(order):
        tile = draw_truth(frames[i], frame_truths[i])
        tile = cv2.resize(tile, (tile_width, tile_h), interpolation=cv2.INTER_AREA)
        r, c = divmod(k, columns)
        sheet[r * tile_h : (r + 1) * tile_h, c * tile_width : (c + 1) * tile_width] = tile
    return sheet


def sheet_for_video(
    video: Path, out: Path, *, tiles: int = 12, columns: int = 4, tile_width: int = 320
) -> Path:
    """Write the contact sheet of a phantom video; return its path."""
    truth, orientation = truth_for_video(video)
    videos = truth["videos"]
    assert isinstance(videos, dict)
    sweep = videos[orientation]
    frames = read_video(video)
    frame_truths = sweep["frames"]
    n = min(len(frame_truths), frames.shape[0])
    ideal = tuple(int(i) for i in sweep["ideal_frames"].values())
    sheet = contact_sheet(
        frames[:n],
        frame_truths[:n],
        tiles=tiles,
        columns=columns,
        tile_width=tile_width,
        must_include=ideal,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise ValueError(f"cannot write {out}")
    return out
