"""Where does the blinding audit's run-to-run AUC difference come from? (issue 17)

Builds the reproducibility test's material (``bench_blinding_audit.build``: both sources of
``--cases`` cases, one process, so nothing but chance separates them), times the readers'
media route for ``--rounds`` shuffled rounds once, computes the image features once, and
then compares pairs of "runs" that differ in one component only:

- timing: the same CV seeds, latencies from disjoint halves of the rounds (as two runs that
  each time the route afresh);
- seeds: the same latencies, disjoint sets of CV seeds (folds and forests);
- both.

Each comparison is repeated over several disjoint pairs; it prints the mean and the
largest |ΔAUC| per component and setting.

    .venv/bin/python benchmarks/variance_blinding_audit.py [--cases 30] [--rounds 20]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[8])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--times", help="an .npy file of the timings: written, or read if there")
    parser.add_argument(
        "--modes", nargs="+", default=["median", "binned", "per-seed-round", "none"]
    )
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="var-audit-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'db.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    import django
    from django.conf import settings

    django.setup()
    settings.MEDIA_ROOT = str(scratch / "media")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    spec = importlib.util.spec_from_file_location(
        "bench_blinding_audit", ROOT / "benchmarks" / "bench_blinding_audit.py"
    )
    bench = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(bench)  # type: ignore[union-attr]
    study = bench.build(args.cases, seed=3)

    import numpy as np

    from analysis import blinding
    from analysis.blinding_audit import _out_of_fold, audit_features
    from analysis.stats import roc_auc
    from readers.preparation import VIEWS
    from trials.models import Asset, AssetKind

    materials, _scope = blinding._materials(study)
    materials.sort(key=lambda m: (m.case.code, m.source))
    if args.times and Path(args.times).exists():
        saved = np.load(args.times)
        times = {m.pk: list(saved[i]) for i, m in enumerate(materials)}
        print(f"timings of {len(materials)} materials from {args.times}")
    else:
        started = time.perf_counter()
        times = blinding.serving_times(materials, seed=0, study=study, repeats=args.rounds)
        print(
            f"timed {len(materials)} materials × {args.rounds} rounds in "
            f"{time.perf_counter() - started:.1f} s"
        )
        if args.times:
            with open(args.times, "wb") as handle:
                np.save(handle, np.array([times[m.pk] for m in materials]))
    frame_counts = {
        (str(c), o): n
        for c, o, n in Asset.objects.filter(
            case__study=study, kind=AssetKind.SWEEP_VIDEO
        ).values_list("case_id", "orientation", "frame_count")
    }
    observations = [blinding.material_observation(m, frame_counts, 0.0) for m in materials]
    features = audit_features(observations, VIEWS)
    labels = np.array([1 if o.source == "ai" else 0 for o in observations])
    groups = [o.group for o in observations]
    pks = [m.pk for m in materials]
    raw = np.array([times[pk] for pk in pks])  # materials × rounds
    half = args.rounds // 2

    def auc(latency_columns: np.ndarray | None, seeds: range) -> float:
        """Latency columns: one per seed (per-seed-round) or one for all (median)."""
        total = np.zeros(len(labels))
        for k, seed in enumerate(seeds):
            x = features.copy()
            if latency_columns is not None:
                x[:, 1] = latency_columns[:, k % latency_columns.shape[1]]
            total += _out_of_fold(x, labels, groups, seed, None)
        return roc_auc(labels, total / len(seeds)).auc

    def latency(mode: str, rounds: np.ndarray, n_seeds: int) -> np.ndarray | None:
        if mode == "none":
            return None
        if mode == "median":  # before: rounded to 2 standard errors on a grid from 0
            medians = np.median(rounds, axis=1)
            mads = np.median(np.abs(rounds - medians[:, None]), axis=1)
            resolution = 2.0 * np.median(1.4826 * mads / rounds.shape[1] ** 0.5)
            return (np.round(medians / resolution) * resolution)[:, None]
        if mode == "binned":  # now: analysis.blinding._at_repeatability
            per_material = {pk: list(rounds[i]) for i, pk in enumerate(pks)}
            binned = blinding._at_repeatability(per_material, rounds.shape[1])
            return np.array([[binned[pk]] for pk in pks])
        return rounds[:, :n_seeds]

    rng = np.random.default_rng(0)
    for n_seeds in args.seeds:
        for mode in args.modes:
            deltas: dict[str, list[float]] = {"timing": [], "seeds": [], "both": []}
            t0 = time.perf_counter()
            for pair in range(args.pairs):
                order = rng.permutation(args.rounds)
                first, second = raw[:, order[:half]], raw[:, order[half:]]
                base, other = (
                    range(2000 * pair, 2000 * pair + n_seeds),
                    range(2000 * pair + 1000, 2000 * pair + 1000 + n_seeds),
                )
                a = auc(latency(mode, first, n_seeds), base)
                deltas["timing"].append(abs(a - auc(latency(mode, second, n_seeds), base)))
                deltas["seeds"].append(abs(a - auc(latency(mode, first, n_seeds), other)))
                deltas["both"].append(abs(a - auc(latency(mode, second, n_seeds), other)))
            summary = ", ".join(
                f"{k} mean {np.mean(v):.4f} max {np.max(v):.4f}" for k, v in deltas.items()
            )
            print(
                f"seeds {n_seeds:3d} latency {mode:15s}: |ΔAUC| {summary} "
                f"({time.perf_counter() - t0:.1f} s)",
                flush=True,
            )
    print(f"per-round times: median {statistics.median(raw.ravel()):.1f} ms")


if __name__ == "__main__":
    main()
