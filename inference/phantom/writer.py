"""Write phantom cases to disk: manifest, videos, standard views, truth, DOTA labels."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.labels import (
    IMAGE_LABELS,
    MANIFEST_COLUMNS,
    PLANE_QUALITY_HEADER,
    SPLIT_SAGITTAL_VIDEO_COLUMNS,
    VIEW_STRUCTURES,
    View,
)
from inference.phantom.case import LAYOUTS, SAGITTAL_SWEEP_MODES, PhantomCase, render_case
from inference.phantom.lesion_masks import lesion_pixel_counts
from inference.phantom.sweep import Sweep

ANGLE_CONVENTION = (
    "Boxes are (cx, cy, w, h, angle_deg) in frame pixels, x right, y down; w >= h is the "
    "long side; angle_deg in [-90, 90) is the direction of the long side, positive = "
    "counter-clockwise on screen. DOTA corners run clockwise on screen from the corner that "
    "is top-left when angle_deg = 0."
)
DATASET_KINDS = ("internal", "external", "blind_sweep")
#: Which boxes a DOTA export carries: ``views``, on frames within a standard view's
#: tolerance only that view's structures (as a sonographer annotates standard planes; every
#: other exported frame is a negative with an empty label file), or ``all``, every visible
#: structure of every frame.
DOTA_LABEL_MODES = ("views", "all")
#: Manifest columns of split sagittal sweeps (``--sagittal-sweeps split``), after
#: ``video_sagittal`` (which stays empty), as in MANIFEST_COLUMNS.
SPLIT_VIDEO_COLUMNS: tuple[str, ...] = SPLIT_SAGITTAL_VIDEO_COLUMNS
#: The manifest columns the phantom writes: all of MANIFEST_COLUMNS but the optional ones it
#: does not model (Volpe grading; an absent column reads as empty) and, unless its sagittal
#: sweeps are split, the one-sided sweeps' columns. Why not write them empty: the shipped
#: demo models' reproducibility run hashes the manifest's bytes.
UNMODELLED_COLUMNS: frozenset[str] = frozenset({"volpe_grade"})
PHANTOM_MANIFEST_COLUMNS: tuple[str, ...] = tuple(
    c for c in MANIFEST_COLUMNS if c not in UNMODELLED_COLUMNS and c not in SPLIT_VIDEO_COLUMNS
)
#: Frame sizes of the authors' real example sweeps (width, height), measured on them.
REAL_FRAME_SIZES: tuple[tuple[int, int], ...] = ((850, 648), (1442, 898))


@dataclass(frozen=True)
class GenerateOptions:
    """Options of ``python -m inference.phantom generate``."""

    cases: int
    out: Path
    seed: int = 0
    blind_sweep: bool = False
    frames_min: int = 80
    frames_max: int = 250
    width: int = 640
    height: int = 480
    severe_prevalence: float = 0.12
    dataset: str = "phantom"
    dataset_kind: str | None = None
    site: str = "Phantom General Hospital"
    dota_every: int = 5
    dota_labels: str = "views"
    overlays: bool = True
    # Opt-in realism (defaults keep today's bytes): see render_case.
    sagittal_sweeps: str = "combined"
    speckle_correlation: float | None = None
    machine_layout: str = "standard"
    #: Every case at this (width, height); None: ``width``/``height``, or with the real
    #: layout one of REAL_FRAME_SIZES drawn per case.
    frame_size: tuple[int, int] | None = None
    #: Also write ``views/<code>_<VIEW>_lesion.png`` (see inference.phantom.lesion_masks) and
    #: name it in the truth JSON; default off (today's bytes).
    lesion_masks: bool = False

    def __post_init__(self) -> None:
        if self.sagittal_sweeps not in SAGITTAL_SWEEP_MODES:
            raise ValueError(
                f"--sagittal-sweeps must be one of {SAGITTAL_SWEEP_MODES}, "
                f"got {self.sagittal_sweeps!r}"
            )
        if self.machine_layout not in LAYOUTS:
            raise ValueError(
                f"--machine-layout must be one of {LAYOUTS}, got {self.machine_layout!r}"
            )
        if self.speckle_correlation is not None and not 0.0 <= self.speckle_correlation < 1.0:
            raise ValueError(
                f"--speckle-correlation must be in [0, 1), got {self.speckle_correlation}"
            )
        if self.cases < 1:
            raise ValueError(f"--cases must be at least 1, got {self.cases}")
        if self.dota_every < 0:
            raise ValueError(f"--dota-every must be >= 0, got {self.dota_every}")
        if self.dota_labels not in DOTA_LABEL_MODES:
            raise ValueError(
                f"--dota-labels must be one of {DOTA_LABEL_MODES}, got {self.dota_labels!r}"
            )
        if self.dataset_kind is not None and self.dataset_kind not in DATASET_KINDS:
            raise ValueError(
                f"--dataset-kind must be one of {DATASET_KINDS}, got {self.dataset_kind!r}"
            )

    def case_frame_size(self, case_seed: int) -> tuple[int, int]:
        """The (width, height) of a case's frames."""
        if self.frame_size is not None:
            return self.frame_size
        if self.machine_layout == "real":
            pick = int(np.random.default_rng([case_seed, 0xF5A3]).integers(len(REAL_FRAME_SIZES)))
            return REAL_FRAME_SIZES[pick]
        return self.width, self.height

    @property
    def manifest_columns(self) -> tuple[str, ...]:
        """The manifest's columns: PHANTOM_MANIFEST_COLUMNS, plus the one-sided sagittal videos."""
        if self.sagittal_sweeps != "split":
            return PHANTOM_MANIFEST_COLUMNS
        return tuple(c for c in MANIFEST_COLUMNS if c not in UNMODELLED_COLUMNS)

    @property
    def kind(self) -> str:
        """Dataset kind, defaulting to blind_sweep for blind sweeps."""
        if self.dataset_kind:
            return self.dataset_kind
        return "blind_sweep" if self.blind_sweep else "internal"


def case_code(dataset: str, seed: int, index: int) -> str:
    """A stable case code: dataset prefix, seed, running number."""
    prefix = re.sub(r"[^A-Za-z0-9]", "", dataset).upper()[:8] or "PH"
    return f"{prefix}-{seed}-{index:04d}"


def case_seed(seed: int, index: int) -> int:
    """The seed of case ``index`` of a run with ``seed``."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def write_video(path: Path, frames: np.ndarray, fps: int) -> None:
    """Write grey frames as an mp4v MP4 (three equal RGB channels)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), float(fps), (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write MP4 to {path}")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    finally:
        writer.release()


def dota_lines(sweep: Sweep, index: int, mode: str = "views") -> list[str]:
    """DOTA v1 label lines of one frame: ``x1 y1 ... x4 y4 class_name difficult``.

    ``mode`` ``views``: only the structures of the frame's standard view, none for a frame
    outside every view's tolerance, headed by a ``plane-quality:Q`` line (Q = the frame's
    closeness to the view's ideal plane, 1 at the ideal, 0 at the tolerance's edge; a header
    line like DOTA's own ``gsd:``, which DOTA readers skip)."""
    truth = sweep.truth[index]
    if mode == "views" and truth.view is None:
        return []
    lines = [f"{PLANE_QUALITY_HEADER}{truth.closeness:.3f}"] if mode == "views" else []
    for box in truth.boxes:
        if (
            mode == "views"
            and truth.view is not None
            and box.class_name not in VIEW_STRUCTURES[truth.view]
        ):
            continue
        corners = box.box.corners()
        coords = " ".join(f"{v:.1f}" for v in corners.reshape(-1))
        lines.append(f"{coords} {box.class_name} 0")
    return lines


def sweep_truth(case: PhantomCase, sweep: Sweep, video_path: str) -> dict[str, object]:
    """JSON truth of one sweep."""
    return {
        "path": video_path,
        "orientation": sweep.orientation,
        **({} if sweep.side is None else {"declared_orientation": sweep.name, "side": sweep.side}),
        "direction": sweep.direction,
        "fps": sweep.fps,
        "n_frames": int(sweep.frames.shape[0]),
        "width": sweep.geometry.width,
        "height": sweep.geometry.height,
        "sector": sweep.geometry.to_dict(),
        "ideal_frames": {v.value: i for v, i in sweep.ideal_frames.items()},
        "expected_ranges": {v.value: list(r) for v, r in sweep.expected_ranges.items()},
        "picked_frames": {
            v.value: i for v, i in case.view_picks.items() if case.view_sweeps[v] == sweep.name
        },
        "frames": [t.to_dict() for t in sweep.truth],
    }


def case_truth(
    case: PhantomCase, code: str, videos: dict[str, str], views: dict[View, str]
) -> dict[str, object]:
    """JSON truth of a case."""
    p = case.volume.params
    return {
        "code": code,
        "seed": case.seed,
        "case_type": case.case_type,
        "conditions": [c.value for c in case.labels.conditions],
        "ivh_grade": case.labels.ivh_grade,
        "severe": case.severe,
        "ga_weeks": case.meta.ga_weeks,
        "ga_days": case.meta.ga_days,
        "blind_sweep": case.blind_sweep,
        "style": case.style.describe(),
        "brain": {"semi_axes_mm": [round(p.a_x, 2), round(p.a_y, 2), round(p.a_z, 2)]},
        "lesions": case.plan.describe(),
        "view_angles_deg": {k: round(v, 3) for k, v in vars(case.volume.angles).items()},
        "angle_convention": ANGLE_CONVENTION,
        "views": {
            v.value: {"path": path, "orientation": case.view_sweeps[v], "frame": case.view_picks[v]}
            for v, path in views.items()
        },
        "videos": {o: sweep_truth(case, s, videos[o]) for o, s in case.sweeps.items()},
    }


def _manifest_row(
    case: PhantomCase,
    code: str,
    options: GenerateOptions,
    videos: dict[str, str],
    views: dict[View, str],
    excluded: bool,
) -> dict[str, str]:
    m = case.meta
    row = {
        "code": code,
        "dataset": options.dataset,
        "dataset_kind": options.kind,
        "site": options.site,
        "ga_weeks": str(m.ga_weeks),
        "ga_days": str(m.ga_days),
        "birth_weight_g": str(m.birth_weight_g),
        "sex": m.sex,
        "age_at_exam_days": str(m.age_at_exam_days),
        "apgar_1min": str(m.apgar_1min),
        "apgar_5min": str(m.apgar_5min),
        "probe_type": case.style.probe_type,
        "manufacturer": case.style.manufacturer,
        "model": case.style.model,
        "transducer_mhz": f"{case.style.transducer_mhz:.1f}",
        "conditions": ";".join(c.value for c in case.labels.conditions),
        "ivh_grade": "" if case.labels.ivh_grade is None else str(case.labels.ivh_grade),
        "excluded": "1" if excluded else "0",
        "exclusion_reason": "unsuitable for diagnosis" if excluded else "",
        "video_coronal": videos.get("coronal", ""),
        "video_sagittal": videos.get("sagittal", ""),
    }
    if options.sagittal_sweeps == "split":
        for column in SPLIT_VIDEO_COLUMNS:
            row[column] = videos.get(column.removeprefix("video_"), "")
    for v in View:
        row[f"view_{v.value}"] = views.get(v, "")
    assert tuple(row) == options.manifest_columns
    return row


def write_case(case: PhantomCase, code: str, options: GenerateOptions) -> dict[str, str]:
    """Write one case's files under ``options.out``; return its manifest row."""
    out = options.out
    rng = np.random.default_rng([case.seed, 0xD07A])
    videos: dict[str, str] = {}
    for orientation, sweep in case.sweeps.items():
        rel = f"videos/{code}_{orientation}.mp4"
        write_video(out / rel, sweep.frames, sweep.fps)
        videos[orientation] = rel
    views: dict[View, str] = {}
    (out / "views").mkdir(parents=True, exist_ok=True)
    # A junior sometimes leaves out one parasagittal view (4–6 views per case).
    skipped = {View.RPSV if rng.random() < 0.5 else View.LPSV} if rng.random() < 0.1 else set()
    for view in View:
        if view not in case.view_picks or view in skipped:
            continue
        rel = f"views/{code}_{view.value}.png"
        cv2.imwrite(str(out / rel), case.view_image(view))
        views[view] = rel
    truth = case_truth(case, code, videos, views)
    if options.lesion_masks:
        _write_lesion_masks(case, code, out, views, truth)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    (out / "truth" / f"{code}.json").write_text(json.dumps(truth, indent=1))
    if options.dota_every:
        (out / "dota" / "images").mkdir(parents=True, exist_ok=True)
        (out / "dota" / "labelTxt").mkdir(parents=True, exist_ok=True)
        for orientation, sweep in case.sweeps.items():
            for i in range(0, sweep.frames.shape[0], options.dota_every):
                stem = f"{code}_{orientation}_{i:04d}"
                cv2.imwrite(str(out / "dota" / "images" / f"{stem}.png"), sweep.frames[i])
                lines = dota_lines(sweep, i, options.dota_labels)
                (out / "dota" / "labelTxt" / f"{stem}.txt").write_text(
                    "".join(line + "\n" for line in lines)
                )
    excluded = case.blind_sweep and len(views) < 2
    return _manifest_row(case, code, options, videos, views, excluded)


def _write_lesion_masks(
    case: PhantomCase, code: str, out: Path, views: dict[View, str], truth: dict[str, object]
) -> None:
    """Write each view's lesion label image and name it in ``truth`` (``--lesion-masks``)."""
    truth["lesion_mask_labels"] = {str(label): i for i, label in enumerate(IMAGE_LABELS) if i}
    entries = truth["views"]
    assert isinstance(entries, dict)
    for view in views:
        labels = case.view_lesion_labels(view)
        if labels is None:
            raise ValueError("lesion masks need a case rendered with lesion_masks=True")
        rel = f"views/{code}_{view.value}_lesion.png"
        cv2.imwrite(str(out / rel), labels)
        entries[view.value] |= {"lesion_mask": rel, "lesion_pixels": lesion_pixel_counts(labels)}


def iter_cases(options: GenerateOptions) -> Iterator[tuple[str, PhantomCase]]:
    """Render the cases of a run one by one (code, case)."""
    for i in range(options.cases):
        seed = case_seed(options.seed, i)
        width, height = options.case_frame_size(seed)
        yield (
            case_code(options.dataset, options.seed, i + 1),
            render_case(
                seed,
                blind_sweep=options.blind_sweep,
                frames_min=options.frames_min,
                frames_max=options.frames_max,
                width=width,
                height=height,
                severe_prevalence=options.severe_prevalence,
                overlays=options.overlays,
                sagittal_sweeps=options.sagittal_sweeps,
                speckle_correlation=options.speckle_correlation,
                layout=options.machine_layout,
                lesion_masks=options.lesion_masks,
            ),
        )


def generate(options: GenerateOptions, *, progress: bool = False) -> Path:
    """Render and write a data set; return the manifest path."""
    options.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for n, (code, case) in enumerate(iter_cases(options), start=1):
        rows.append(write_case(case, code, options))
        if progress:
            print(f"[{n}/{options.cases}] {code} {case.case_type}", flush=True)
    manifest = options.out / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(options.manifest_columns))
        writer.writeheader()
        writer.writerows(rows)
    return manifest
