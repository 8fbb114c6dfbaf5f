"""One list of manifest columns serves the case import, training/evaluation and the phantom."""

from __future__ import annotations

from core.labels import (
    DECLARED_ORIENTATIONS,
    MANIFEST_COLUMNS,
    SPLIT_SAGITTAL_VIDEO_COLUMNS,
    VIDEO_COLUMNS,
)
from inference.ncls.evaluation import VIDEO_COLUMNS as EVALUATION_VIDEO_COLUMNS
from inference.phantom.writer import PHANTOM_MANIFEST_COLUMNS, UNMODELLED_COLUMNS
from trials.models import Orientation
from trials.services.cases import IMPORT_COLUMNS


def test_every_declared_orientation_has_its_video_column_in_the_one_list() -> None:
    assert set(Orientation.values) == set(DECLARED_ORIENTATIONS)
    assert [f"video_{o}" for o in DECLARED_ORIENTATIONS] == list(VIDEO_COLUMNS)
    assert {"video_sagittal_left", "video_sagittal_right"} == set(SPLIT_SAGITTAL_VIDEO_COLUMNS)
    at = MANIFEST_COLUMNS.index("video_coronal")
    assert MANIFEST_COLUMNS[at : at + 4] == (
        "video_coronal",
        "video_sagittal",
        "video_sagittal_left",
        "video_sagittal_right",
    )
    assert IMPORT_COLUMNS == MANIFEST_COLUMNS
    assert set(EVALUATION_VIDEO_COLUMNS) == set(VIDEO_COLUMNS)
    assert EVALUATION_VIDEO_COLUMNS["video_sagittal_left"] == "sagittal_left"
    assert EVALUATION_VIDEO_COLUMNS["video_sagittal"] is None  # its side decided from the frames


def test_the_phantom_writes_the_list_but_what_it_does_not_model_by_default() -> None:
    left_out = set(MANIFEST_COLUMNS) - set(PHANTOM_MANIFEST_COLUMNS)
    assert left_out == set(UNMODELLED_COLUMNS) | set(SPLIT_SAGITTAL_VIDEO_COLUMNS)
    assert list(PHANTOM_MANIFEST_COLUMNS) == [c for c in MANIFEST_COLUMNS if c not in left_out]
