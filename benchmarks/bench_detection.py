"""Speed of NCLS stage 1: detection frames/s and extraction seconds per sweep (run on demand).

Self-contained: renders its own sweep (the phantom if installed, else a synthetic fan), and
uses the shipped demo detector for ``lite`` (random weights for ``full``, or ``--checkpoint``;
speed does not depend on the weights).

    .venv/bin/python benchmarks/bench_detection.py                       # lite + full, CPU
    .venv/bin/python benchmarks/bench_detection.py --profiles full --device cuda --dtype bf16
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inference.ncls.detection.checkpoint import load_detector  # noqa: E402
from inference.ncls.detection.extract import detect_video  # noqa: E402
from inference.ncls.detection.model import RotatedRTDETR, profile_config  # noqa: E402
from inference.ncls.detection.predict import Detector  # noqa: E402
from inference.ncls.detection.preprocess import sector_of  # noqa: E402

DEMO = ROOT / "inference" / "ncls" / "demo_models" / "detector-lite"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def make_sweep(folder: Path, frames: int, seed: int) -> Path:
    """A coronal sweep MP4 of ``frames`` frames (640×480)."""
    path = folder / "coronal.mp4"
    try:
        from inference.phantom import render_case
        from inference.phantom.writer import write_video

        case = render_case(seed, n_frames=frames, case_type="normal", orientations=("coronal",))
        sweep = case.sweeps["coronal"]
        write_video(path, sweep.frames, sweep.fps)
    except ImportError:
        from inference.ncls.detection.synthetic import write_sweep

        write_sweep(path, "coronal", frames, seed=seed, size=(480, 640))
    return path


def build(profile: str, checkpoint: str | None, device: str, dtype: str) -> Detector:
    """A detector of ``profile``: the given/demo checkpoint, else random weights."""
    ckpt = checkpoint or (
        str(DEMO) if profile == "lite" and (DEMO / "detector.json").exists() else None
    )
    if ckpt:
        model, _ = load_detector(ckpt, device)
    else:
        torch.manual_seed(0)
        model = RotatedRTDETR(profile_config(profile)).eval()
    return Detector(model, device=device, dtype=DTYPES[dtype])


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bench(profile: str, args: argparse.Namespace, video: Path) -> dict[str, object]:
    detector = build(
        profile, args.checkpoint if profile == "lite" else None, args.device, args.dtype
    )
    from core.video import open_video

    with open_video(video) as stream:
        frames = [f for _, f in zip(range(args.batch_size), stream, strict=False)]
    roi = sector_of(frames[:8])
    detector.detect(frames[:2], 0, roi)  # warm-up
    sync(args.device)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        detector.detect(frames, 0, roi)
        sync(args.device)
        times.append(time.perf_counter() - t0)
    fps = len(frames) / statistics.median(times)
    sweep_times = []
    stages: dict[str, float] = {}
    for _ in range(args.sweep_repeats):
        t0 = time.perf_counter()
        run = detect_video(video, detector, batch_size=args.batch_size)
        sync(args.device)
        sweep_times.append(time.perf_counter() - t0)
        stages = {k: round(v, 3) for k, v in run.timings.items()}
    return {
        "profile": profile,
        "device": args.device,
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "input_size": detector.size,
        "detection_frames_per_s": round(fps, 2),
        "sweep_frames": args.frames,
        "extract_s_per_sweep": round(min(sweep_times), 3),
        "extract_s_per_case_two_sweeps": round(2 * min(sweep_times), 3),
        "stages": stages,
        "gpu": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profiles", nargs="+", default=["lite", "full"], choices=["lite", "full"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=list(DTYPES))
    parser.add_argument("--frames", type=int, default=150, help="frames of the benchmark sweep")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sweep-repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--checkpoint", default=None, help="lite checkpoint (default: the shipped demo)"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        video = make_sweep(Path(tmp), args.frames, args.seed)
        for profile in args.profiles:
            print(json.dumps(bench(profile, args, video)), flush=True)


if __name__ == "__main__":
    main()
