"""The model registry for real use: register any NCLS model directory, verify it, guard runs.

A model directory is one of the formats the platform writes (no other is guessed at):

- ``published``: ``published.json`` (format ``ncls-published/1``) beside ``detector.safetensors``
  and ``fold_1.safetensors`` … ``fold_5.safetensors``, written by
  ``python -m inference.ncls import-published``;
- ``lite`` / ``full``: what ``train-detector`` and ``train-diagnosis`` write: a diagnosis
  directory (``fold_*.json`` + ``fold_*.safetensors``, optionally ``diagnosis.json``) on its
  own, or a root holding ``diagnosis*/`` and ``detect*/`` sub-directories (as ``demo_models``).

Registering hashes every file now and compares each weights file with the SHA-256 its JSON
record holds (where it holds one). Provenance is read from the JSON: a published import, a
training command line, or neither (uploaded). Verifying hashes every file again; the result
is stored on the model. A model whose files differ from their SHA-256 cannot run: the run
request and the worker both call :func:`model_require_intact` first.

Only the demo code (``register_demo_models``, ``inference.demo``) passes ``is_demo=True``.

Modules: :mod:`.formats`, :mod:`.permissions`, :mod:`.inspection` (reading a directory),
:mod:`.registration`, :mod:`.verification` (hashing again, the run guard), :mod:`.display`.
"""

from inference.registry.display import metric_lines, model_body, notice
from inference.registry.formats import (
    DETECTOR_FORMAT,
    DIAGNOSIS_FORMAT,
    KNOWN_FORMATS,
    METRIC_KEYS,
    PUBLISHED_FORMAT,
    PUBLISHED_RECORD,
    REGISTERED_SUFFIXES,
    ModelDirectoryError,
)
from inference.registry.inspection import ModelDirectory, inspect_model_dir
from inference.registry.permissions import MANAGE_PERMISSION, can_manage_models
from inference.registry.registration import DuplicateModel, model_directory, model_register
from inference.registry.verification import (
    MODEL_VERIFIED,
    Verification,
    model_require_intact,
    model_verify,
)

__all__ = [
    "DETECTOR_FORMAT",
    "DIAGNOSIS_FORMAT",
    "KNOWN_FORMATS",
    "MANAGE_PERMISSION",
    "METRIC_KEYS",
    "MODEL_VERIFIED",
    "PUBLISHED_FORMAT",
    "PUBLISHED_RECORD",
    "REGISTERED_SUFFIXES",
    "DuplicateModel",
    "ModelDirectory",
    "ModelDirectoryError",
    "Verification",
    "can_manage_models",
    "inspect_model_dir",
    "metric_lines",
    "model_body",
    "model_directory",
    "model_register",
    "model_require_intact",
    "model_verify",
    "notice",
]
