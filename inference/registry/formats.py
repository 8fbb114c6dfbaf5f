"""The model-directory formats the platform writes, and the error a bad directory raises."""

from __future__ import annotations

from django.core.exceptions import ValidationError

#: Files recorded with their SHA-256 (weights, their JSON records, exported ONNX graphs).
REGISTERED_SUFFIXES = (".safetensors", ".json", ".onnx")
# The formats the platform's own writers record (kept here so that the web process needs no
# torch import; tests check them against inference.ncls).
PUBLISHED_RECORD = "published.json"
PUBLISHED_FORMAT = "ncls-published/1"
DETECTOR_FORMAT = "ncls-rotated-rtdetr/1"
DIAGNOSIS_FORMAT = "ncls-diagnosis/1"
#: Keys of a JSON record that hold evaluation figures.
METRIC_KEYS = (
    "metrics",
    "validation",
    "out_of_fold_auc",
    "held_out",
    "blind_sweep",
    "localisation",
)
KNOWN_FORMATS = (
    f"{PUBLISHED_RECORD} (format {PUBLISHED_FORMAT}, from `python -m inference.ncls "
    "import-published`), fold_*.json (from train-diagnosis), or diagnosis*/ and detect*/ "
    "sub-directories (from train-diagnosis and train-detector)"
)


class ModelDirectoryError(ValidationError):
    """A model directory that is absent, of an unknown format, incomplete or altered."""
