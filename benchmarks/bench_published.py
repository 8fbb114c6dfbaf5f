"""Speed of the authors' published NCLS networks on CPU (run on demand).

Detector section: frames per second of the published RT-DETRv2 (640×640, fp32, torch eager)
at batch 1 and 8, plus the per-frame cost of its input transform and post-processing. Weights
come from the golden weight rule when the key list is available (random init otherwise):
speed does not depend on the weights, and this keeps the script self-contained.

    .venv/bin/python benchmarks/bench_published.py                  # full run
    .venv/bin/python benchmarks/bench_published.py --quick          # a short smoke run
    .venv/bin/python benchmarks/bench_published.py --threads 2 --batches 1 8

Case section: seconds per case through the platform's pipeline with a published model — a
coronal sweep (850×648) and two one-sided sagittal sweeps (1442×898) of ``--frames`` frames each
(default 150), decoded, detected, views selected (``detection.extract``), then six views
diagnosed by the five folds with ``--tta`` seeded passes (default 10). Golden-rule weights find
no view, so stage 2 is timed on six frames of the sweeps directly; the sum is the case figure.
With ``--quick`` (4 frames, 2 passes) the 150-frame, 10-pass figure is extrapolated linearly
from the measured per-frame and per-pass costs and marked as an estimate.

    .venv/bin/python benchmarks/bench_published.py --sections case --threads 2
    .venv/bin/python benchmarks/bench_published.py --sections case --quick

Sections are plain functions returning a JSON-able dict, registered in ``SECTIONS``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inference.ncls.published.detector import (  # noqa: E402
    INPUT_SIZE,
    build_detector,
    detector_input,
    postprocess,
)
from inference.ncls.published.weight_rule import golden_weights  # noqa: E402

SHARED = Path("/work/shared/published_ncls")


def golden_model(keys_json: Path) -> tuple[torch.nn.Module, str]:
    """The detector filled by the weight rule (or left random if the key list is absent)."""
    model = build_detector()
    if keys_json.exists():
        model.load_state_dict(golden_weights(json.loads(keys_json.read_text())), strict=True)
        return model.eval(), "golden weight rule"
    return model.eval(), "random init (key list not found)"


def time_call(fn: Callable[[], object], repeats: int, warmup: int) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def bench_detector(args: argparse.Namespace) -> dict[str, object]:
    """Network fps per batch size, and the input/post-processing cost per frame."""
    model, weights = golden_model(Path(args.keys))
    gen = torch.Generator().manual_seed(0)
    network: dict[str, dict[str, float]] = {}
    with torch.inference_mode():
        for batch in args.batches:
            x = torch.rand(batch, 3, INPUT_SIZE, INPUT_SIZE, generator=gen)
            times = time_call(lambda x=x: model(x), args.repeats, args.warmup)
            median = statistics.median(times)
            network[f"batch_{batch}"] = {
                "frames_per_s": round(batch / median, 3),
                "s_per_batch_median": round(median, 3),
                "s_per_batch_min": round(min(times), 3),
            }
        out = model(torch.rand(1, 3, INPUT_SIZE, INPUT_SIZE, generator=gen))

    frame = np.random.default_rng(0).integers(0, 256, size=(898, 1442, 3), dtype=np.uint8)
    prep = time_call(lambda: detector_input(frame), max(args.repeats, 5), 1)
    post = time_call(lambda: postprocess(out, [(1442, 898)]), max(args.repeats, 5), 1)
    return {
        "section": "detector",
        "model": "published RT-DETRv2 r50vd (640x640, fp32, eager)",
        "weights": weights,
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "repeats": args.repeats,
        "network": network,
        "input_ms_per_frame_1442x898": round(1000 * statistics.median(prep), 2),
        "postprocess_ms_per_frame": round(1000 * statistics.median(post), 2),
    }


def synthetic_sweep(path: Path, frames: int, size_wh: tuple[int, int], seed: int) -> Path:
    """A speckled fan on black, ``frames`` frames of ``size_wh``, as an MP4."""
    import cv2

    width, height = size_wh
    rng = np.random.default_rng(seed)
    mask = np.zeros((height, width), np.uint8)
    cv2.ellipse(
        mask, (width // 2, height // 10), (int(height * 0.8),) * 2, 90, -35, 35, 1, thickness=-1
    )
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 25.0, (width, height))
    for _ in range(frames):
        grey = rng.integers(40, 200, size=(height, width), dtype=np.uint8) * mask
        writer.write(np.repeat(grey[..., None], 3, axis=2))
    writer.release()
    return path


def bench_case(args: argparse.Namespace) -> dict[str, object]:
    """Seconds per three-sweep case: stage 1 (decode, detect, views) + stage 2 (6 views, TTA)."""
    from core.video import read_frames
    from inference.ncls.detection.extract import extract
    from inference.ncls.published.diagnosis import build_diagnosis
    from inference.ncls.published.ensemble import PublishedEnsemble
    from inference.ncls.published.frames import PublishedFrameDetector
    from inference.ncls.published.model_dir import PublishedModels

    model, weights = golden_model(Path(args.keys))
    detector = PublishedFrameDetector(model)
    net = build_diagnosis()
    keys = SHARED / "diagnosis_keys.json"
    if keys.exists():
        net.load_state_dict(golden_weights(json.loads(keys.read_text())), strict=True)
    folds = (net.eval(),) * 5  # speed does not depend on the weights
    ensemble = PublishedEnsemble(
        PublishedModels(Path("."), {"version": "bench"}, folds, None), tta=args.tta
    )
    sweeps = {"coronal": (850, 648), "sagittal_left": (1442, 898), "sagittal_right": (1442, 898)}
    with tempfile.TemporaryDirectory() as work:
        videos = [
            synthetic_sweep(Path(work) / f"{o}.mp4", args.frames, wh, k)
            for k, (o, wh) in enumerate(sweeps.items())
        ]
        t0 = time.perf_counter()
        summary = extract(
            videos, detector, Path(work) / "out", batch_size=8, orientations=list(sweeps)
        )
        stage1 = time.perf_counter() - t0
        views = {
            v: read_frames(videos[k % 3], [0])[0]
            for k, v in enumerate(("AHV", "TVV", "BV", "MSV", "RPSV", "LPSV"))
        }
        t0 = time.perf_counter()
        ensemble.diagnose(views)
        stage2 = time.perf_counter() - t0
    frames = 3 * args.frames
    detect_s = sum(v["timings"]["detect_s"] for v in summary["videos"])
    result: dict[str, object] = {
        "section": "case",
        "weights": weights,
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "frames_per_sweep": args.frames,
        "tta": args.tta,
        "folds": 5,
        "stage1_s": round(stage1, 2),
        "detector_s_per_frame": round(detect_s / frames, 3),
        "stage2_s": round(stage2, 2),
        "seconds_per_case": round(stage1 + stage2, 2),
    }
    if args.frames != 150 or args.tta != 10:
        estimate = stage1 * 150 / args.frames + stage2 * 10 / args.tta
        result["seconds_per_case_150_frames_tta_10_estimate"] = round(estimate, 1)
    return result


SECTIONS: dict[str, Callable[[argparse.Namespace], dict[str, object]]] = {
    "detector": bench_detector,
    "case": bench_case,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=list(SECTIONS))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--keys", default=str(SHARED / "detector_keys.json"))
    parser.add_argument("--frames", type=int, default=150, help="frames per sweep (case section)")
    parser.add_argument("--tta", type=int, default=10, help="test-time passes (case section)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="batch 1 and 2, one timed run each; case: 4 frames per sweep, 2 passes, extrapolated",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.batches, args.repeats, args.warmup = [1, 2], 1, 1
        args.frames, args.tta = 4, 2
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in args.sections:
        print(json.dumps(SECTIONS[name](args)), flush=True)


if __name__ == "__main__":
    main()
