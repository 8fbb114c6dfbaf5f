"""Speed of the authors' published NCLS networks on CPU, PyTorch and onnxruntime (on demand).

Weights come from the golden weight rule when the key lists are available (random init
otherwise): speed does not depend on the weights, and this keeps the script self-contained.
The ONNX graphs of those weights are exported once into ``--onnx-dir`` (default
``/tmp/ncls-published-onnx-bench``; delete it to export again) with the platform's exporter
(``inference.ncls.published.onnx``) and run with its session options (``--threads`` intra-op
threads, one inter-op thread, sequential, every graph optimisation).

Every timing reports wall seconds and process CPU seconds (``time.process_time``: all threads
of this process), plus the load average when it ran: on a shared machine the wall time grows
with the load, the CPU time much less.

Sections (each prints one JSON line):

- ``detector``: frames per second of the network alone, per engine (``torch`` eager fp32,
  ``onnxruntime`` fp32, ``int8``: the onnxruntime graph with dynamic int8 quantisation,
  ``onnxruntime.quantization.quantize_dynamic``, and its largest output deviation from the
  float32 graph on the same frames), at each ``--batches``; plus the per-frame cost of the
  input transform (decoded 1442×898 frame → 640×640 tensor) and of the post-processing;
- ``diagnosis``: seconds per test-time pass (six views through one fold), per engine; a case
  is 5 folds × ``--tta`` passes;
- ``case``: seconds per case through the platform's pipeline — a coronal sweep (850×648)
  and two one-sided sagittal sweeps (1442×898) of ``--frames`` frames each (default 150),
  decoded, every frame detected, views selected (``detection.extract``), then six views
  diagnosed by the five folds with ``--tta`` seeded passes (default 10) — with ``--engine``.
  Golden-rule weights find no view, so stage 2 is timed on six frames of the sweeps
  directly; the sum is the case figure. With ``--quick`` (4 frames, 2 passes) the
  150-frame, 10-pass figure is extrapolated linearly from the measured costs and marked as
  an estimate.

The commands of the report (2 threads):

    .venv/bin/python benchmarks/bench_published.py --sections detector --threads 2 \
        --engines torch onnxruntime int8 --batches 1 4
    .venv/bin/python benchmarks/bench_published.py --sections diagnosis --threads 2 \
        --engines torch onnxruntime
    .venv/bin/python benchmarks/bench_published.py --sections case --threads 2 \
        --engine onnxruntime --quick
    .venv/bin/python benchmarks/bench_published.py --sections case --threads 2 --engine torch --quick

Sections are plain functions returning a JSON-able dict, registered in ``SECTIONS``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
from inference.ncls.published.diagnosis import build_diagnosis  # noqa: E402
from inference.ncls.published.weight_rule import golden_weights  # noqa: E402

SHARED = Path("/work/shared/published_ncls")
ENGINES = ("torch", "onnxruntime", "int8")


def golden_model(keys_json: Path) -> tuple[torch.nn.Module, str]:
    """The detector filled by the weight rule (or left random if the key list is absent)."""
    model = build_detector()
    if keys_json.exists():
        model.load_state_dict(golden_weights(json.loads(keys_json.read_text())), strict=True)
        return model.eval(), "golden weight rule"
    return model.eval(), "random init (key list not found)"


def golden_fold() -> torch.nn.Module:
    """One diagnosis fold filled by the weight rule (random init without the key list)."""
    net = build_diagnosis()
    keys = SHARED / "diagnosis_keys.json"
    if keys.exists():
        net.load_state_dict(golden_weights(json.loads(keys.read_text())), strict=True)
    return net.eval()


def graphs(args: argparse.Namespace) -> dict[str, Path]:
    """The golden networks' ONNX graphs in ``--onnx-dir`` (exported on first use), and the
    detector's dynamic int8 quantisation."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from inference.ncls.published.onnx import export_detector_graph, export_diagnosis_graph

    out = Path(args.onnx_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "detector": out / "detector.onnx",
        "detector_int8": out / "detector.int8.onnx",
        "fold": out / "fold.onnx",
    }
    if not paths["detector"].is_file():
        export_detector_graph(golden_model(Path(args.keys))[0], paths["detector"])
    if not paths["fold"].is_file():
        export_diagnosis_graph(golden_fold(), paths["fold"])
    if not paths["detector_int8"].is_file():
        quantize_dynamic(paths["detector"], paths["detector_int8"], weight_type=QuantType.QInt8)
    return paths


def session(path: Path, threads: int) -> Any:
    from inference.ncls.published.onnx import _session

    return _session(path, threads)


def time_call(fn: Callable[[], object], repeats: int, warmup: int) -> dict[str, float]:
    """Median wall and CPU seconds of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return {
        "wall_s_median": statistics.median(wall),
        "wall_s_min": min(wall),
        "cpu_s_median": statistics.median(cpu),
    }


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def bench_detector(args: argparse.Namespace) -> dict[str, object]:
    """Network fps per engine and batch size; int8 deviation; input/post-processing cost."""
    from inference.ncls.published.onnx import OrtDetectorNet

    model, weights = golden_model(Path(args.keys))
    paths = graphs(args) if set(args.engines) - {"torch"} else {}
    runners: dict[str, Callable[[torch.Tensor], dict[str, torch.Tensor]]] = {}
    for engine in args.engines:
        if engine == "torch":
            runners[engine] = model
        else:
            name = "detector" if engine == "onnxruntime" else "detector_int8"
            runners[engine] = OrtDetectorNet(session(paths[name], args.threads))
    gen = torch.Generator().manual_seed(0)
    network: dict[str, dict[str, float]] = {}
    load_before = load()
    with torch.inference_mode():
        for engine, run in runners.items():
            for batch in args.batches:
                x = torch.rand(batch, 3, INPUT_SIZE, INPUT_SIZE, generator=gen)
                t = time_call(lambda x=x, run=run: run(x), args.repeats, args.warmup)
                network[f"{engine}_batch_{batch}"] = {
                    "frames_per_s_wall": round(batch / t["wall_s_median"], 3),
                    "cpu_s_per_frame": round(t["cpu_s_median"] / batch, 3),
                    "s_per_batch_median": round(t["wall_s_median"], 3),
                    "s_per_batch_min": round(t["wall_s_min"], 3),
                }
        out = model(torch.rand(1, 3, INPUT_SIZE, INPUT_SIZE, generator=gen))
        deviation = {}
        if "int8" in runners and "onnxruntime" in runners:
            x = torch.rand(2, 3, INPUT_SIZE, INPUT_SIZE, generator=gen)
            full, int8 = runners["onnxruntime"](x), runners["int8"](x)
            full_scores = full["pred_logits"].sigmoid()
            int8_scores = int8["pred_logits"].sigmoid()
            deviation = {
                "int8_max_abs_logit": round(
                    float((full["pred_logits"] - int8["pred_logits"]).abs().max()), 4
                ),
                "int8_max_abs_score": round(float((full_scores - int8_scores).abs().max()), 4),
                "int8_max_abs_box": round(
                    float((full["pred_boxes"] - int8["pred_boxes"]).abs().max()), 4
                ),
            }

    frame = np.random.default_rng(0).integers(0, 256, size=(898, 1442, 3), dtype=np.uint8)
    prep = time_call(lambda: detector_input(frame), max(args.repeats, 5), 1)
    post = time_call(lambda: postprocess(out, [(1442, 898)]), max(args.repeats, 5), 1)
    return {
        "section": "detector",
        "model": "published RT-DETRv2 r50vd (640x640, fp32 unless int8)",
        "weights": weights,
        "device": "cpu",
        "threads": args.threads,
        "torch": torch.__version__,
        "repeats": args.repeats,
        "load_average_before_after": [load_before, load()],
        "network": network,
        **deviation,
        "input_ms_per_frame_1442x898": round(1000 * prep["wall_s_median"], 2),
        "postprocess_ms_per_frame": round(1000 * post["wall_s_median"], 2),
    }


def bench_diagnosis(args: argparse.Namespace) -> dict[str, object]:
    """Seconds per test-time pass (6 views, one fold) per engine, in the ensemble's chunks."""
    from inference.ncls.published.ensemble import MAX_BATCH_IMAGES
    from inference.ncls.published.onnx import OrtDiagnosisNet

    net = golden_fold()
    runners: dict[str, Callable[..., Any]] = {}
    for engine in args.engines:
        if engine == "torch":
            runners[engine] = net
        elif engine == "onnxruntime":
            runners[engine] = OrtDiagnosisNet(session(graphs(args)["fold"], args.threads))
    passes = MAX_BATCH_IMAGES // 6  # what one call of the ensemble carries
    x = torch.randn(passes * 6, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    lengths = torch.full((passes,), 6)
    result: dict[str, object] = {}
    load_before = load()
    with torch.inference_mode():
        for engine, run in runners.items():
            t = time_call(lambda run=run: run(x, lengths), args.repeats, args.warmup)
            result[engine] = {
                "s_per_pass_wall": round(t["wall_s_median"] / passes, 3),
                "cpu_s_per_pass": round(t["cpu_s_median"] / passes, 3),
                "s_per_case_5_folds_x_tta_wall": round(
                    t["wall_s_median"] / passes * 5 * args.tta, 2
                ),
            }
    return {
        "section": "diagnosis",
        "model": "published ConvNeXt-T multi-view (6 views of 256x256 per pass, fp32)",
        "threads": args.threads,
        "tta": args.tta,
        "passes_per_call": passes,
        "load_average_before_after": [load_before, load()],
        **result,
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
    from inference.ncls.published.ensemble import PublishedEnsemble
    from inference.ncls.published.frames import PublishedFrameDetector
    from inference.ncls.published.model_dir import PublishedModels
    from inference.ncls.published.onnx import OrtDetectorNet, OrtDiagnosisNet

    model, weights = golden_model(Path(args.keys))
    net = golden_fold()
    folds = (net,) * 5  # speed does not depend on the weights
    record = PublishedModels(Path("."), {"version": "bench"}, folds, None)
    if args.engine == "onnxruntime":
        paths = graphs(args)
        detector = PublishedFrameDetector(
            OrtDetectorNet(session(paths["detector"], args.threads)), engine="onnxruntime"
        )
        graph = OrtDiagnosisNet(session(paths["fold"], args.threads))
        ensemble = PublishedEnsemble(record, tta=args.tta, networks=(graph,) * 5)
    else:
        detector = PublishedFrameDetector(model)
        ensemble = PublishedEnsemble(record, tta=args.tta)
    sweeps = {"coronal": (850, 648), "sagittal_left": (1442, 898), "sagittal_right": (1442, 898)}
    load_before = load()
    with tempfile.TemporaryDirectory() as work:
        videos = [
            synthetic_sweep(Path(work) / f"{o}.mp4", args.frames, wh, k)
            for k, (o, wh) in enumerate(sweeps.items())
        ]
        w0, c0 = time.perf_counter(), time.process_time()
        summary = extract(
            videos,
            detector,
            Path(work) / "out",
            batch_size=args.case_batch,
            orientations=list(sweeps),
        )
        stage1, stage1_cpu = time.perf_counter() - w0, time.process_time() - c0
        views = {
            v: read_frames(videos[k % 3], [0])[0]
            for k, v in enumerate(("AHV", "TVV", "BV", "MSV", "RPSV", "LPSV"))
        }
        w0, c0 = time.perf_counter(), time.process_time()
        ensemble.diagnose(views)
        stage2, stage2_cpu = time.perf_counter() - w0, time.process_time() - c0
    frames = 3 * args.frames
    detect_s = sum(v["timings"]["detect_s"] for v in summary["videos"])
    result: dict[str, object] = {
        "section": "case",
        "engine": args.engine,
        "weights": weights,
        "device": "cpu",
        "threads": args.threads,
        "frames_per_sweep": args.frames,
        "detector_batch": args.case_batch,
        "tta": args.tta,
        "folds": 5,
        "load_average_before_after": [load_before, load()],
        "stage1_s": round(stage1, 2),
        "stage1_cpu_s": round(stage1_cpu, 2),
        "detector_s_per_frame": round(detect_s / frames, 3),
        "stage2_s": round(stage2, 2),
        "stage2_cpu_s": round(stage2_cpu, 2),
        "seconds_per_case": round(stage1 + stage2, 2),
        "cpu_seconds_per_case": round(stage1_cpu + stage2_cpu, 2),
    }
    if args.frames != 150 or args.tta != 10:
        scale1, scale2 = 150 / args.frames, 10 / args.tta
        result["seconds_per_case_150_frames_tta_10_estimate"] = round(
            stage1 * scale1 + stage2 * scale2, 1
        )
        result["cpu_seconds_per_case_150_frames_tta_10_estimate"] = round(
            stage1_cpu * scale1 + stage2_cpu * scale2, 1
        )
    return result


SECTIONS: dict[str, Callable[[argparse.Namespace], dict[str, object]]] = {
    "detector": bench_detector,
    "diagnosis": bench_diagnosis,
    "case": bench_case,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=list(SECTIONS))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="torch and onnxruntime threads")
    parser.add_argument("--keys", default=str(SHARED / "detector_keys.json"))
    parser.add_argument(
        "--engines",
        nargs="+",
        default=["torch", "onnxruntime"],
        choices=ENGINES,
        help="detector and diagnosis sections",
    )
    parser.add_argument(
        "--engine", default="torch", choices=ENGINES[:2], help="case section's engine"
    )
    parser.add_argument(
        "--onnx-dir",
        default="/tmp/ncls-published-onnx-bench",
        help="where the golden networks' graphs are exported once and reused",
    )
    parser.add_argument("--frames", type=int, default=150, help="frames per sweep (case section)")
    parser.add_argument("--tta", type=int, default=10, help="test-time passes")
    parser.add_argument(
        "--case-batch", type=int, default=8, help="frames per detector call (case section)"
    )
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
    torch.set_num_threads(args.threads)
    for name in args.sections:
        print(json.dumps(SECTIONS[name](args)), flush=True)


if __name__ == "__main__":
    main()
