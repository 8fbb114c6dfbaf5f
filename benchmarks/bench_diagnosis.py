"""Seconds per case of NCLS stage 2 (diagnosis + heatmaps) and, with videos, the whole pipeline.

    .venv/bin/python benchmarks/bench_diagnosis.py --models inference/ncls/demo_models --data DIR
    .venv/bin/python benchmarks/bench_diagnosis.py --profile full --device cuda   # untrained weights

``--profile full`` times five randomly initialised ConvNeXt-Tiny folds (speed does not
depend on the weights). Reported against the paper's 28.97 s per case (whole pipeline).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from inference.ncls.diagnosis.checkpoint import FoldModel
from inference.ncls.diagnosis.data import load_rgb, read_manifest
from inference.ncls.diagnosis.model import DiagnosisNet, architecture_for
from inference.ncls.diagnosis.predict import DiagnosisEnsemble
from inference.ncls.diagnosis.toydata import draw_view
from inference.ncls.pipeline import NclsPipeline

PAPER_SECONDS_PER_CASE = 28.97


def _cases(data: Path | None, count: int) -> list[tuple[dict[str, np.ndarray], list[Path]]]:
    if data is None:
        rng = np.random.default_rng(0)
        frame = draw_view(rng, severe=True, height=480, width=640)
        return [(dict.fromkeys(("AHV", "TVV", "BV", "MSV", "RPSV", "LPSV"), frame), [])] * count
    manifest = data / "manifest.csv" if data.is_dir() else data
    cases = []
    for record in read_manifest(manifest)[:count]:
        views = {view.value: load_rgb(path) for view, path in record.views.items()}
        with manifest.open() as handle:
            row = next(r for r in csv.DictReader(handle) if r["code"] == record.code)
        videos = [
            manifest.parent / row[k] for k in ("video_coronal", "video_sagittal") if row.get(k)
        ]
        cases.append((views, [v for v in videos if v.is_file()]))
    return cases


def _full_ensemble(device: str, folds: int) -> DiagnosisEnsemble:
    members = []
    for fold in range(folds):
        torch.manual_seed(fold)
        net = DiagnosisNet(architecture_for("full")).to(device).eval()
        members.append(
            FoldModel(net, {"version": f"ncls-diagnosis-full-untrained-{fold}"}, Path("untrained"))
        )
    return DiagnosisEnsemble(members, device)


def main() -> None:
    """Run the benchmark and print one JSON report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=Path, default=Path("inference/ncls/demo_models"))
    parser.add_argument(
        "--data", type=Path, default=None, help="phantom directory (views and videos)"
    )
    parser.add_argument("--profile", choices=("lite", "full"), default="lite")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cases", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-pipeline", action="store_true", help="skip the whole-pipeline timing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.profile == "full":
        pipeline = NclsPipeline(_full_ensemble(args.device, 5))
    else:
        pipeline = NclsPipeline.load(args.models, args.device, detection=not args.no_pipeline)
    cases = _cases(args.data, args.cases)
    pipeline.diagnose_views(cases[0][0])  # warm-up (allocations, cuDNN autotuning)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    stage2, diagnosis_only, whole = [], [], []
    for views, videos in cases:
        started = time.perf_counter()
        result = pipeline.diagnose_views(views)
        stage2.append(time.perf_counter() - started)
        diagnosis_only.append(result.timings_s["diagnosis"])
        if videos and pipeline.detector is not None and not args.no_pipeline:
            started = time.perf_counter()
            pipeline.run_videos(videos)
            whole.append(time.perf_counter() - started)
    report = {
        "profile": args.profile,
        "device": args.device
        if not args.device.startswith("cuda")
        else torch.cuda.get_device_name(),
        "threads": args.threads,
        "cases": len(cases),
        "folds": len(pipeline.ensemble.folds),
        "views_per_case": statistics.mean(len(v) for v, _ in cases),
        "diagnosis_s_per_case": round(statistics.median(diagnosis_only), 4),
        "diagnosis_and_heatmaps_s_per_case": round(statistics.median(stage2), 4),
        "whole_pipeline_s_per_case": round(statistics.median(whole), 3) if whole else None,
        "paper_s_per_case": PAPER_SECONDS_PER_CASE,
        "note": "median over cases; diagnosis = 5 folds x 2 test-time augmentations",
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
