"""The NCLS pipeline as the platform runs it: one case's videos in, a ``CaseAIOutput`` out.

Loaded models are kept per model directory, and results per (model directory, video
contents): the demo and re-runs over the same sweeps (another study, a retried task)
do not pay for inference twice. The views handed to the platform are the ORIGINAL video
frames at the chosen indices, so AI material reaches readers through the same rendition
path as a junior's picks.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np

from inference.ncls.diagnosis.pipeline import NclsPipeline
from inference.ncls.files import file_sha256
from inference.ncls.video import read_frames
from inference.services import CaseAIOutput

_RESULT_CACHE_SIZE = 256
_results: dict[tuple[str, tuple[tuple[str, str], ...]], CaseAIOutput] = {}


@functools.lru_cache(maxsize=4)
def _pipeline(model_dir: str) -> NclsPipeline:
    return NclsPipeline.load(Path(model_dir))




def run_ncls_pipeline(model_dir: Path, videos: dict[str, Path]) -> CaseAIOutput:
    """Run stage 1 and stage 2 on a case's sweeps (``{"coronal": path, "sagittal": path}``)."""
    key = (str(model_dir), tuple(sorted((o, file_sha256(p)) for o, p in videos.items())))
    if key in _results:
        return _results[key]
    pipeline = _pipeline(str(model_dir))
    declared = sorted(videos)
    ordered = [videos[o] for o in declared]
    with tempfile.TemporaryDirectory() as scratch:
        # each sweep is analysed as the orientation declared at upload (blank: decided from its frames)
        result = pipeline.run_videos(ordered, out_dir=Path(scratch), heatmaps=True,
                                     orientations=[o or None for o in declared])
        heatmaps = {view: _overlay(h.overlay_path) for view, h in result.heatmaps.items() if h.overlay_path}
    picked: dict[str, tuple[np.ndarray, int] | None] = {}
    missing: dict[str, str] = {}
    for view, entry in result.extraction.get("views", {}).items():
        if entry.get("status") == "found":
            index = int(entry["frame_index"])
            source = Path(entry["video"])
            picked[view] = (read_frames(source, [index])[index], index)
        else:
            picked[view] = None
            missing[view] = str(entry.get("reason", ""))
    diagnosis = result.diagnosis
    output = CaseAIOutput(
        views=picked,
        missing_reasons=missing,
        severe_probability=float(diagnosis.severe_probability),
        severe=bool(diagnosis.severe),
        rule=str(diagnosis.rule),
        image_labels={view: {"labels": list(p.labels), "probabilities": p.probabilities}
                      for view, p in diagnosis.image_labels.items()},
        heatmaps=heatmaps,
        timings=dict(result.timings_s),
    )
    if len(_results) >= _RESULT_CACHE_SIZE:
        _results.pop(next(iter(_results)))
    _results[key] = output
    return output


def _overlay(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"heatmap overlay unreadable: {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
