"""Stage 1 against phantom ground truth: views found, frame error, detection mAP.

Reads a folder written by ``python -m inference.phantom generate`` (``truth/*.json``,
``videos/``, ``dota/``), runs :func:`~inference.ncls.detection.extract.extract` per case and
compares each chosen frame with the truth's ideal frame of that view.

A sagittal sweep's side cannot be seen in the images (the hemispheres are mirror images and
the side label does not change), so parasagittal frames are scored twice: under the
extractor's convention (first side = right), and side-agnostic (the pair matched to the
truth's pair by sweep order, i.e. with the true sweep direction given).
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import torch

from core.labels import View
from inference.ncls.detection.data import list_pairs, load_samples
from inference.ncls.detection.evaluate import frame_detector_map
from inference.ncls.detection.extract import extract
from inference.ncls.detection.predict import Detector, FrameDetector
from inference.ncls.detection.train import evaluate_samples


def evaluate_phantom(
    root: str | Path,
    detector: FrameDetector,
    *,
    max_cases: int | None = None,
    max_images: int | None = None,
    out_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Per-case view recovery and frame error on phantom cases, plus rotated mAP@0.5."""
    root = Path(root)
    truths = sorted((root / "truth").glob("*.json"))[: max_cases or None]
    cases = []
    errors: list[int] = []
    errors_agnostic: list[int] = []
    work = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="ncls-eval-"))
    for path in truths:
        truth = json.loads(path.read_text())
        code = truth["code"]
        videos = {o: root / v["path"] for o, v in truth["videos"].items()}
        result = extract([videos[o] for o in sorted(videos)], detector, work / code)
        case: dict[str, Any] = {
            "code": code,
            "case_type": truth.get("case_type"),
            "normal": "normal" in truth.get("conditions", []),
            "views": {},
        }
        for o, v in truth["videos"].items():
            ideal = v["ideal_frames"]
            for name, ideal_frame in ideal.items():
                got = result["views"].get(name, {})
                found = (
                    got.get("status") == "found" and Path(got["video"]).name == Path(v["path"]).name
                )
                err = abs(int(got["frame_index"]) - int(ideal_frame)) if found else None
                agnostic = err
                if o == "sagittal" and name in ("RPSV", "LPSV"):
                    # side-agnostic: the truth's first side in time is paired with our first side
                    first_true = "RPSV" if v.get("direction") == "right_to_left" else "LPSV"
                    ours = "RPSV" if name == first_true else "LPSV"
                    g2 = result["views"].get(ours, {})
                    agnostic = (
                        abs(int(g2["frame_index"]) - int(ideal_frame))
                        if g2.get("status") == "found"
                        else None
                    )
                case["views"][name] = {
                    "ideal": ideal_frame,
                    "chosen": got.get("frame_index"),
                    "error": err,
                    "error_side_agnostic": agnostic,
                    "missing_reason": got.get("reason"),
                }
                if err is not None:
                    errors.append(err)
                if agnostic is not None:
                    errors_agnostic.append(agnostic)
        expected = [n for v in truth["videos"].values() for n in v["ideal_frames"]]
        case["all_views_found"] = all(
            result["views"].get(n, {}).get("status") == "found" for n in expected
        )
        by_video = {Path(r["video"]).name: r for r in result["videos"]}
        case["orientation_correct"] = {
            o: by_video.get(Path(v["path"]).name, {}).get("orientation") == o
            for o, v in truth["videos"].items()
        }
        cor = truth["videos"].get("coronal")
        if cor is not None:
            case["coronal_direction_correct"] = by_video.get(Path(cor["path"]).name, {}).get(
                "sweep_direction"
            ) == cor.get("direction")
        case["timings"] = {Path(r["video"]).name: r.get("timings") for r in result["videos"]}
        cases.append(case)
    normal = [c for c in cases if c["normal"]]
    summary: dict[str, Any] = {
        "score_threshold": detector.threshold,
        "cases": len(cases),
        "normal_cases": len(normal),
        "normal_cases_all_views": sum(c["all_views_found"] for c in normal),
        "all_cases_all_views": sum(c["all_views_found"] for c in cases),
        "orientation_correct": sum(all(c["orientation_correct"].values()) for c in cases),
        "coronal_direction_correct": sum(bool(c.get("coronal_direction_correct")) for c in cases),
        "median_frame_error": statistics.median(errors) if errors else None,
        "median_frame_error_side_agnostic": statistics.median(errors_agnostic)
        if errors_agnostic
        else None,
        "views_scored": len(errors),
        "views_expected": sum(len(c["views"]) for c in cases),
        "per_view_median_error": {
            v.value: statistics.median(e)
            if (
                e := [
                    c["views"][v.value]["error_side_agnostic"]
                    for c in cases
                    if c["views"].get(v.value, {}).get("error_side_agnostic") is not None
                ]
            )
            else None
            for v in View
        },
    }
    if (root / "dota").is_dir():
        pairs = list_pairs(root)[: max_images or None]
        if isinstance(detector, Detector):  # ours: on its letterboxed training-style samples
            samples = load_samples(pairs, detector.size)
            scores = evaluate_samples(detector.model, samples, torch.device(detector.device))
        else:  # any other: frame by frame, above its threshold
            scores = frame_detector_map(detector, pairs)
        summary["detection"] = scores.to_json()
        summary["detection_images"] = len(pairs)
    return {"summary": summary, "cases": cases}
