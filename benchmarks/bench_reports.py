"""Benchmark: the full analysis report set for a paper-sized simulated study.

555 cases (199 internal + 356 external), 9 junior and 11 mid-level readers unaided, the
9 juniors aided, the AI, a blinded trial of 3 seniors × 555 cases, qualitative scores of
111 blind sweeps; 2,000 bootstrap resamples. Target: ≤ 10 s for all reports.

    .venv/bin/python benchmarks/bench_reports.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

from analysis.reports import REPORTS, run_report
from analysis.simulation import SimulationConfig, simulate_study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()
    start = time.perf_counter()
    data = simulate_study(SimulationConfig(seed=0))
    simulated = time.perf_counter() - start
    print(
        f"simulated study: {data.reads['case'].nunique()} cases, "
        f"{data.reads.loc[data.reads['tier'] != 'ai', 'reader'].nunique()} readers, "
        f"{len(data.reads)} reads, {len(data.blinded)} blinded reviews in {simulated:.2f} s"
    )
    run_report("roc", data)  # warm-up: imports, plotly validators, snapshot hash
    best = float("inf")
    for attempt in range(1, args.repeat + 1):
        timings = {}
        total_start = time.perf_counter()
        for key in REPORTS:
            t0 = time.perf_counter()
            run_report(key, data, n_resamples=args.resamples)
            timings[key] = time.perf_counter() - t0
        total = time.perf_counter() - total_start
        best = min(best, total)
        print(
            f"run {attempt}: {total:.2f} s  ("
            + ", ".join(f"{k} {v:.2f}" for k, v in timings.items())
            + ")"
        )
    print(
        f"best full report set: {best:.2f} s (target ≤ 10 s) — {'OK' if best <= 10 else 'TOO SLOW'}"
    )


if __name__ == "__main__":
    main()
