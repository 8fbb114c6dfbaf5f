"""A stand-in NCLS pipeline for worker tests: real frames, fixed answers, a little time.

Selected in a Celery worker by ``FONTANELLE_PIPELINE_RUNNER=tests.inference.fake_pipeline.run``.
It reads real frames from the case's videos (so renditions go through the canonical
path) and sleeps long enough that a test can kill the worker in the middle of a task.
"""

from __future__ import annotations

import time
from pathlib import Path

from core.video import read_frames
from inference.services import CaseAIOutput

SECONDS_PER_CASE = 0.6


def run(model_dir: Path, videos: dict[str, Path]) -> CaseAIOutput:
    """Pick frame 1 of the coronal sweep for AHV and frame 2 for TVV; non-severe."""
    time.sleep(SECONDS_PER_CASE)
    frames = read_frames(videos["coronal"], [1, 2])
    return CaseAIOutput(
        views={"AHV": (frames[1], 1), "TVV": (frames[2], 2)},
        missing_reasons={},
        severe_probability=0.1,
        severe=False,
        rule="case_head_non_severe",
        image_labels={},
    )
