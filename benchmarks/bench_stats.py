"""Speed of the statistics library against the issue-4 targets (run on demand).

.venv/bin/python benchmarks/bench_stats.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from analysis.stats import mrmc_or, reader_case_bootstrap, roc_auc


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    """Best wall time of ``repeats`` runs, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_auc() -> None:
    rng = np.random.default_rng(0)
    n = 1_000_000
    y = rng.integers(0, 2, n)
    s = rng.normal(size=n) + y
    ours = best_of(lambda: roc_auc(y, s))
    sklearn = best_of(lambda: roc_auc_score(y, s))
    print(
        f"AUC + DeLong variance, 10^6 scores: {ours:.3f} s "
        f"(target <= 1 s); sklearn roc_auc_score alone {sklearn:.3f} s; ratio {ours / sklearn:.2f}x "
        "(target <= 3x)"
    )


def mrmc_frame(readers: int, cases: int, seed: int = 1) -> pd.DataFrame:
    """Synthetic fully crossed study: 2 modalities, 5-point ratings."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, cases)
    rows = []
    for modality in (1, 2):
        for reader in range(readers):
            latent = rng.normal(size=cases) + truth * (1.0 + 0.2 * modality)
            rating = np.digitize(latent, [-0.5, 0.3, 1.0, 1.8]) + 1
            rows.append(
                pd.DataFrame(
                    {
                        "reader": reader,
                        "modality": modality,
                        "case": np.arange(cases),
                        "truth": truth,
                        "rating": rating,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def bench_or() -> None:
    frame = mrmc_frame(20, 1000)
    elapsed = best_of(lambda: mrmc_or(frame))
    print(f"OR jackknife, 20 readers x 2 modalities x 1000 cases: {elapsed:.3f} s (target <= 1 s)")


def bench_bootstrap() -> None:
    rng = np.random.default_rng(2)
    truth = (rng.random(555) < 0.3).astype(int)
    ratings = np.digitize(rng.normal(size=(20, 555)) + truth, [-0.5, 0.3, 1.0, 1.8]) + 1.0
    elapsed = best_of(lambda: reader_case_bootstrap(ratings, truth, n_resamples=2000), repeats=2)
    print(
        "two-way bootstrap, 2000 resamples, reader-averaged AUC, 20 readers x 555 cases: "
        f"{elapsed:.3f} s (target <= 5 s)"
    )


if __name__ == "__main__":
    bench_auc()
    bench_or()
    bench_bootstrap()
