"""Benchmark: render one 150-frame 640×480 phantom sweep on one core.

Run: ``.venv/bin/python benchmarks/bench_phantom.py [--frames 150] [--repeats 3]``.
Target (issue 3): at most 5 s per sweep, brain volume included.
"""

from __future__ import annotations

import os

# One core: set before numpy/OpenCV load their thread pools.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402

from inference.phantom import render_case  # noqa: E402


def main() -> None:
    """Time render_case with a single coronal sweep of the requested size."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--ga", type=float, default=40.0, help="gestational age (term = largest brain)"
    )
    args = parser.parse_args()
    cv2.setNumThreads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    times = []
    for r in range(args.repeats):
        start = time.perf_counter()
        case = render_case(
            100 + r,
            n_frames=args.frames,
            width=args.width,
            height=args.height,
            case_type="normal",
            ga_weeks=args.ga,
            orientations=("coronal",),
        )
        times.append(time.perf_counter() - start)
        assert case.sweeps["coronal"].frames.shape == (args.frames, args.height, args.width)
    best, worst = min(times), max(times)
    print(
        f"one {args.frames}-frame {args.width}x{args.height} sweep (GA {args.ga:g} w, one core): "
        f"best {best:.2f} s, worst {worst:.2f} s over {args.repeats} runs "
        f"({1000 * best / args.frames:.1f} ms/frame incl. brain build)"
    )


if __name__ == "__main__":
    main()
