"""Peak memory of one AI worker process over many cases of real-size sweeps (issue 19).

    .venv/bin/python benchmarks/bench_runner_memory.py [--cases 50] [--width 1442 --height 898]

The NCLS networks are replaced by a stub whose outputs have the real sizes: six standard
views picked from two 1442×898 sweeps and six heatmap overlays (PNG, the sector's bounding
box, 0.7 W × 0.8 H); so what is measured is what the runner keeps, not the networks. Each
configuration runs in a fresh process and prints ``ru_maxrss`` before and after the cases:

- ``old``: the previous runner, whole outputs kept (up to 256 entries);
- ``bounded``: this runner with its default bound (``FONTANELLE_AI_RESULT_CACHE_BYTES``);
- ``off``: this runner with the cache off (bound 0).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VIEWS = ("AHV", "TVV", "BV", "MSV", "RPSV", "LPSV")


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _write_sweeps(
    folder: Path, cases: int, width: int, height: int, frames: int
) -> list[dict[str, Path]]:
    """Short H.264 sweeps, distinct bytes per case (the cache keys on contents)."""
    import av
    import numpy as np

    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    out = []
    for case in range(cases):
        videos = {}
        for k, orientation in enumerate(("coronal", "sagittal")):
            path = folder / f"case{case:03d}_{orientation}.mp4"
            with av.open(str(path), "w") as container:
                stream = container.add_stream("libx264", rate=25)
                stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
                stream.options = {"preset": "ultrafast"}
                for t in range(frames):
                    frame = np.roll(base, 7 * case + 3 * t + k, axis=1)
                    container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
                container.mux(stream.encode(None))
            videos[orientation] = path
        out.append(videos)
    return out


class _StubPipeline:
    """Returns real-size results: six picked frames and six overlay PNGs per case."""

    def __init__(self, width: int, height: int) -> None:
        import numpy as np

        self.overlay = np.random.default_rng(1).integers(
            0, 255, (int(0.8 * height), int(0.7 * width), 3), dtype=np.uint8
        )
        self.overlay[::2] //= 2  # not pure noise: PNG compresses it a little, as a real overlay

    def run_videos(
        self, videos: list[Path], *, out_dir: Path, heatmaps: bool, orientations: list[str | None]
    ) -> Any:
        import cv2

        by = dict(zip(orientations, videos, strict=True))
        maps = {}
        for view in VIEWS:
            path = out_dir / f"heatmap_{view}.png"
            cv2.imwrite(str(path), self.overlay)
            maps[view] = SimpleNamespace(overlay_path=path)
        views = {
            view: {
                "status": "found",
                "frame_index": 1 + k % 3,
                "video": str(by["coronal" if k < 3 else "sagittal"]),
            }
            for k, view in enumerate(VIEWS)
        }
        label = SimpleNamespace(labels=["normal"], probabilities={"normal": 0.9})
        diagnosis = SimpleNamespace(
            severe_probability=0.3,
            severe=False,
            rule="case_head",
            image_labels=dict.fromkeys(VIEWS, label),
        )
        return SimpleNamespace(
            extraction={"views": views},
            diagnosis=diagnosis,
            heatmaps=maps,
            timings_s={"total": 1.0},
        )


def _old_runner(stub: _StubPipeline) -> Any:
    """The runner before issue 19: the whole ``CaseAIOutput`` kept, up to 256 per process."""
    from inference import runner
    from inference.services import CaseAIOutput

    results: dict[Any, CaseAIOutput] = {}

    def run(model_dir: Path, videos: dict[str, Path]) -> CaseAIOutput:
        key = (str(model_dir), tuple(sorted((o, runner.file_sha256(p)) for o, p in videos.items())))
        if key in results:
            return results[key]
        runner.settings.FONTANELLE_AI_RESULT_CACHE_BYTES = 0
        output = runner.run_ncls_pipeline(model_dir, videos)  # same work, nothing cached inside
        if len(results) >= 256:
            results.pop(next(iter(results)))
        results[key] = output
        return output

    return run


def _child(mode: str, data: Path, cases: int, width: int, height: int) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    import django

    django.setup()
    from inference import runner

    stub = _StubPipeline(width, height)
    runner._pipeline = lambda model_dir: stub  # type: ignore[assignment]
    if mode == "off":
        runner.settings.FONTANELLE_AI_RESULT_CACHE_BYTES = 0
    run = _old_runner(stub) if mode == "old" else runner.run_ncls_pipeline
    sweeps = sorted(data.glob("case*_coronal.mp4"))[:cases]
    cases_videos = [
        {"coronal": p, "sagittal": p.with_name(p.name.replace("coronal", "sagittal"))}
        for p in sweeps
    ]
    before = _rss_mib()
    started = time.perf_counter()
    kept = 0
    for videos in cases_videos:
        output = run(Path("model"), videos)
        kept = sum(f.nbytes for f, _ in filter(None, output.views.values())) + sum(
            h.nbytes for h in output.heatmaps.values()
        )
        del output
    elapsed = time.perf_counter() - started
    repeat_started = time.perf_counter()
    for videos in cases_videos[-5:]:  # the most recent cases again: hits where cached
        run(Path("model"), videos)
    repeat_s = (time.perf_counter() - repeat_started) / 5
    cache = runner.result_cache()
    return {
        "mode": mode,
        "cases": len(cases_videos),
        "rss_before_mib": round(before, 1),
        "rss_peak_after_mib": round(_rss_mib(), 1),
        "seconds": round(elapsed, 1),
        "repeat_case_s": round(repeat_s, 3),
        "output_mib_per_case": round(kept / 2**20, 1),
        "cache_entries": len(cache),
        "cache_mib": round(cache.nbytes / 2**20, 1),
        "cache_bound_mib": round(cache.max_bytes / 2**20, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--width", type=int, default=1442)
    parser.add_argument("--height", type=int, default=898)
    parser.add_argument(
        "--frames", type=int, default=4, help="frames per sweep (the stub picks 1–3)"
    )
    parser.add_argument("--modes", nargs="+", default=["old", "bounded", "off"])
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.data, args.cases, args.width, args.height)))
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        _write_sweeps(Path(scratch), args.cases, args.width, args.height, args.frames)
        print(
            f"wrote {args.cases} cases of 2 sweeps {args.width}x{args.height} "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        for mode in args.modes:
            command = [
                sys.executable,
                __file__,
                "--child",
                mode,
                "--data",
                scratch,
                "--cases",
                str(args.cases),
                "--width",
                str(args.width),
                "--height",
                str(args.height),
            ]
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return done.returncode
            print(done.stdout.strip().splitlines()[-1], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
