"""The NCLS pipeline as the platform runs it: one case's videos in, a ``CaseAIOutput`` out.

Loaded models are kept per model directory, and results per (model directory, video
contents) in a cache bounded by bytes (``FONTANELLE_AI_RESULT_CACHE_BYTES``): the demo
builds three studies over the same phantom sweeps (practice, source trial, reader study),
and a retried task or another study over the same sweeps does not pay for inference twice.

What is cached is what inference made, not what is cheap to re-derive: the chosen frame
INDICES (the frames are decoded again from the same bytes, a second or so per case) and the
heatmap overlays as the PNG bytes the pipeline wrote (a few MB per case at 1442×898 instead
of ~36 MB of decoded frames and overlays). The views handed to the platform are the ORIGINAL
video frames at the chosen indices, so AI material reaches readers through the same
rendition path as a junior's picks.
"""

from __future__ import annotations

import functools
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
from django.conf import settings

from core.files import file_sha256
from core.video import read_frames
from inference.ncls.pipeline import NclsPipeline
from inference.services import CaseAIOutput

#: Default bound of the result cache, per worker process (the setting overrides it).
DEFAULT_RESULT_CACHE_BYTES = 256 * 1024 * 1024

V = TypeVar("V")


class ResultCache(Generic[V]):
    """Least-recently-used entries whose declared sizes sum to at most ``max_bytes``.

    An entry larger than the whole bound is not kept; ``max_bytes`` 0 keeps nothing.
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: V, nbytes: int) -> bool:
        """Keep ``value`` (evicting the least recently used); False if it exceeds the bound."""
        if nbytes < 0:
            raise ValueError(f"nbytes must be >= 0, got {nbytes}")
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.nbytes -= old[1]
            if nbytes > self.max_bytes:
                return False
            while self._entries and self.nbytes + nbytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self.nbytes -= evicted
            self._entries[key] = (value, nbytes)
            self.nbytes += nbytes
            return True

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.nbytes = 0


#: Fixed allowance per entry for its Python objects (labels, probabilities, timings).
ENTRY_OVERHEAD_BYTES = 4096


@dataclass(frozen=True)
class CachedCase:
    """One case's inference, without its pixels: enough to rebuild the ``CaseAIOutput``."""

    picks: dict[str, tuple[str, int] | None]  # view -> (orientation of its sweep, frame index)
    missing_reasons: dict[str, str]
    severe_probability: float
    severe: bool
    rule: str
    image_labels: dict[str, Any]
    heatmap_png: dict[str, np.ndarray] = field(default_factory=dict)  # view -> PNG bytes
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return ENTRY_OVERHEAD_BYTES + sum(int(png.nbytes) for png in self.heatmap_png.values())


CacheKey = tuple[str, tuple[tuple[str, str], ...]]
_cache: ResultCache[CachedCase] = ResultCache(DEFAULT_RESULT_CACHE_BYTES)


def result_cache() -> ResultCache[CachedCase]:
    """This process's cache, sized by ``FONTANELLE_AI_RESULT_CACHE_BYTES`` (re-read each call)."""
    global _cache
    configured = int(
        getattr(settings, "FONTANELLE_AI_RESULT_CACHE_BYTES", DEFAULT_RESULT_CACHE_BYTES)
    )
    if configured != _cache.max_bytes:
        _cache = ResultCache(configured)
    return _cache


@functools.lru_cache(maxsize=4)
def _pipeline(model_dir: str) -> NclsPipeline:
    return NclsPipeline.load(Path(model_dir))


def run_ncls_pipeline(model_dir: Path, videos: dict[str, Path]) -> CaseAIOutput:
    """Run stage 1 and stage 2 on a case's sweeps (``{"coronal": path, "sagittal": path}``)."""
    key: CacheKey = (str(model_dir), tuple(sorted((o, file_sha256(p)) for o, p in videos.items())))
    cache = result_cache()
    cached = cache.get(key)
    if cached is None:
        cached, complete = _infer(model_dir, videos)
        if complete:
            cache.put(key, cached, cached.nbytes)
    return _output(cached, videos)


def _infer(model_dir: Path, videos: dict[str, Path]) -> tuple[CachedCase, bool]:
    """The pipeline's result, and whether every picked frame names one of ``videos``."""
    pipeline = _pipeline(str(model_dir))
    declared = sorted(videos)
    ordered = [videos[o] for o in declared]
    orientation_of = {str(path): o for o, path in videos.items()}
    with tempfile.TemporaryDirectory() as scratch:
        # each sweep is analysed as the orientation declared at upload
        # (blank: decided from its frames)
        result = pipeline.run_videos(
            ordered,
            out_dir=Path(scratch),
            heatmaps=True,
            orientations=[o or None for o in declared],
        )
        heatmap_png = {
            view: np.frombuffer(Path(h.overlay_path).read_bytes(), np.uint8)
            for view, h in result.heatmaps.items()
            if h.overlay_path
        }
    picks: dict[str, tuple[str, int] | None] = {}
    missing: dict[str, str] = {}
    complete = True
    for view, entry in result.extraction.get("views", {}).items():
        if entry.get("status") == "found":
            orientation = orientation_of.get(str(entry["video"]))
            if orientation is None:  # not one of the given paths: cannot be re-read by key
                orientation, complete = str(entry["video"]), False
            picks[view] = (orientation, int(entry["frame_index"]))
        else:
            picks[view] = None
            missing[view] = str(entry.get("reason", ""))
    diagnosis = result.diagnosis
    case = CachedCase(
        picks=picks,
        missing_reasons=missing,
        severe_probability=float(diagnosis.severe_probability),
        severe=bool(diagnosis.severe),
        rule=str(diagnosis.rule),
        image_labels={
            view: {"labels": list(p.labels), "probabilities": p.probabilities}
            for view, p in diagnosis.image_labels.items()
        },
        heatmap_png=heatmap_png,
        timings=dict(result.timings_s),
    )
    return case, complete


def _output(case: CachedCase, videos: dict[str, Path]) -> CaseAIOutput:
    """The platform's output: the picked frames decoded from the sweeps, one pass per sweep."""
    wanted: dict[str, set[int]] = {}
    for pick in case.picks.values():
        if pick is not None:
            wanted.setdefault(pick[0], set()).add(pick[1])
    frames = {
        source: read_frames(videos[source] if source in videos else Path(source), indices)
        for source, indices in wanted.items()
    }
    views: dict[str, tuple[np.ndarray, int] | None] = {
        view: (frames[pick[0]][pick[1]], pick[1]) if pick is not None else None
        for view, pick in case.picks.items()
    }
    return CaseAIOutput(
        views=views,
        missing_reasons=dict(case.missing_reasons),
        severe_probability=case.severe_probability,
        severe=case.severe,
        rule=case.rule,
        image_labels=case.image_labels,
        heatmaps={view: _overlay(png) for view, png in case.heatmap_png.items()},
        timings=dict(case.timings),
    )


def _overlay(png: np.ndarray) -> np.ndarray:
    import cv2

    image = cv2.imdecode(png, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("heatmap overlay unreadable")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
