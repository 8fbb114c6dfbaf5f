"""Speed of the authors' published NCLS networks on CPU (run on demand).

Detector section: frames per second of the published RT-DETRv2 (640×640, fp32, torch eager)
at batch 1 and 8, plus the per-frame cost of its input transform and post-processing. Weights
come from the golden weight rule when the key list is available (random init otherwise):
speed does not depend on the weights, and this keeps the script self-contained.

    .venv/bin/python benchmarks/bench_published.py                  # full run
    .venv/bin/python benchmarks/bench_published.py --quick          # a short smoke run
    .venv/bin/python benchmarks/bench_published.py --threads 2 --batches 1 8

Sections are plain functions returning a JSON-able dict, so more (the diagnosis network) can
be added next to ``bench_detector`` and registered in ``SECTIONS``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
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


SECTIONS: dict[str, Callable[[argparse.Namespace], dict[str, object]]] = {
    "detector": bench_detector,
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
    parser.add_argument(
        "--quick", action="store_true", help="batch 1 and 2, one timed run each (smoke test)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.batches, args.repeats, args.warmup = [1, 2], 1, 1
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in args.sections:
        print(json.dumps(SECTIONS[name](args)), flush=True)


if __name__ == "__main__":
    main()
