"""The AI runner's result cache: bounded by bytes, least recently used first out, and a hit
gives the same output as the run it stands for without running the pipeline again."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pytest

from inference import runner
from inference.runner import ResultCache, run_ncls_pipeline
from tests.media_factories import make_dicom_cine, make_sweep_frames


def test_the_cache_never_holds_more_bytes_than_its_bound() -> None:
    bound = 10_000
    cache: ResultCache[np.ndarray] = ResultCache(bound)
    rng = random.Random(7)
    for step in range(500):
        value = np.zeros(rng.randint(0, 4_000), np.uint8)  # fake outputs of known size
        key = rng.randint(0, 40)
        cache.put(key, value, value.nbytes)
        held = [cache.get(k) for k in range(41)]
        assert cache.nbytes == sum(v.nbytes for v in held if v is not None), step
        assert cache.nbytes <= bound, step
        assert cache.get(key) is value  # the newest entry always fits (each is < the bound)


def test_least_recently_used_goes_first_and_oversized_entries_are_not_kept() -> None:
    cache: ResultCache[str] = ResultCache(300)
    for key in "abc":
        assert cache.put(key, key, 100)
    assert cache.get("a") == "a"  # a is now the most recent: b goes first
    assert cache.put("d", "d", 100)
    assert cache.get("b") is None and [cache.get(k) for k in "acd"] == ["a", "c", "d"]
    assert not cache.put("huge", "huge", 301)
    assert cache.get("huge") is None and cache.nbytes == 300
    assert cache.put("c", "c2", 50)  # replacing an entry frees its old size
    assert cache.nbytes == 250 and cache.get("c") == "c2"
    nothing: ResultCache[str] = ResultCache(0)
    assert not nothing.put("a", "a", 1) and len(nothing) == 0


class _StubPipeline:
    """Picks fixed frames and writes a known-size overlay PNG per view; counts its runs."""

    def __init__(self) -> None:
        self.runs = 0

    def run_videos(
        self, videos: list[Path], *, out_dir: Path, heatmaps: bool, orientations: list[str | None]
    ) -> Any:
        self.runs += 1
        by_orientation = dict(zip(orientations, videos, strict=True))
        overlay = np.full((40, 50, 3), 90, np.uint8)
        overlay[10:20, 10:30] = (250, 20, 20)
        maps = {}
        for view in ("AHV", "MSV"):
            path = out_dir / f"heatmap_{view}.png"
            cv2.imwrite(str(path), overlay)
            maps[view] = SimpleNamespace(overlay_path=path)
        views = {
            "AHV": {"status": "found", "frame_index": 2, "video": str(by_orientation["coronal"])},
            "MSV": {"status": "found", "frame_index": 5, "video": str(by_orientation["sagittal"])},
            "BV": {"status": "not_found", "reason": "no candidate frame"},
        }
        label = SimpleNamespace(labels=["normal"], probabilities={"normal": 0.9})
        diagnosis = SimpleNamespace(
            severe_probability=0.25, severe=False, rule="case_head", image_labels={"AHV": label}
        )
        return SimpleNamespace(
            extraction={"views": views},
            diagnosis=diagnosis,
            heatmaps=maps,
            timings_s={"total": 1.5},
        )


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> _StubPipeline:
    pipeline = _StubPipeline()
    monkeypatch.setattr(runner, "_pipeline", lambda model_dir: pipeline)
    monkeypatch.setattr(runner, "_cache", ResultCache(runner.DEFAULT_RESULT_CACHE_BYTES))
    return pipeline


def _case(folder: Path, seed: int) -> dict[str, Path]:
    folder.mkdir(parents=True)
    frames = make_sweep_frames(8, 64, 48, seed=seed)  # distinct bytes per case
    return {
        o: make_dicom_cine(folder / f"{o}.dcm", frames, jpeg=False, with_phi=False)
        for o in ("coronal", "sagittal")
    }


def test_a_hit_rebuilds_the_same_output_from_the_sweeps_without_running_again(
    stub: _StubPipeline, tmp_path: Path
) -> None:
    original = _case(tmp_path / "a", 0)
    first = run_ncls_pipeline(tmp_path / "model", original)
    # the same bytes under other names (each task copies the sweeps to its own scratch folder)
    (tmp_path / "b").mkdir()
    copy = {o: tmp_path / "b" / f"{o}.video" for o in original}
    for orientation, target in copy.items():
        target.write_bytes(original[orientation].read_bytes())
    second = run_ncls_pipeline(tmp_path / "model", copy)
    assert stub.runs == 1
    assert first.views.keys() == second.views.keys() == {"AHV", "MSV", "BV"}
    for view in ("AHV", "MSV"):
        a, b = first.views[view], second.views[view]
        assert a is not None and b is not None and a[1] == b[1]
        assert np.array_equal(a[0], b[0]) and a[0].shape == (48, 64, 3)
        assert np.array_equal(first.heatmaps[view], second.heatmaps[view])
    assert first.heatmaps["AHV"][15, 15].tolist() == [20, 20, 250]  # BGR file, RGB output
    assert first.views["BV"] is None and second.missing_reasons == {"BV": "no candidate frame"}
    assert (second.severe_probability, second.severe, second.rule) == (0.25, False, "case_head")
    assert second.timings == {"total": 1.5}
    assert runner.result_cache().nbytes <= runner.DEFAULT_RESULT_CACHE_BYTES


def test_the_setting_bounds_the_runner_cache(
    stub: _StubPipeline, tmp_path: Path, settings: Any
) -> None:
    cases = [_case(tmp_path / f"c{k}", k) for k in range(4)]
    run_ncls_pipeline(tmp_path / "model", cases[0])
    entry = runner.result_cache().nbytes  # every stub case has the same size
    settings.FONTANELLE_AI_RESULT_CACHE_BYTES = 2 * entry
    for videos in cases:
        run_ncls_pipeline(tmp_path / "model", videos)
        assert runner.result_cache().nbytes <= 2 * entry
    assert len(runner.result_cache()) == 2 and stub.runs == 5  # the bound changed: cache renewed
    run_ncls_pipeline(tmp_path / "model", cases[3])
    assert stub.runs == 5  # the newest are kept
    settings.FONTANELLE_AI_RESULT_CACHE_BYTES = 0
    run_ncls_pipeline(tmp_path / "model", cases[3])
    run_ncls_pipeline(tmp_path / "model", cases[3])
    assert stub.runs == 7 and len(runner.result_cache()) == 0
