"""The NCLS authors' published networks, re-implemented to load their checkpoints unchanged.

Pure PyTorch (no Django). Parity with the authors' code is proven by golden outputs computed
with a deterministic weight rule (``weight_rule``), since the weights themselves are not
distributed with this repository.
"""

from .checkpoints import CheckpointError, load_detector, load_diagnosis
from .detector import (
    PublishedDetector,
    build_detector,
    detector_input,
    postprocess,
)
from .diagnosis import PublishedDiagnosisNet, build_diagnosis, diagnosis_input
from .model_dir import (
    ModelDirError,
    PublishedModels,
    import_published,
    load_published_model_dir,
)
from .weight_rule import golden_weights, rule_tensor

__all__ = [
    "CheckpointError",
    "ModelDirError",
    "PublishedDetector",
    "PublishedDiagnosisNet",
    "PublishedModels",
    "build_detector",
    "build_diagnosis",
    "detector_input",
    "diagnosis_input",
    "golden_weights",
    "import_published",
    "load_detector",
    "load_diagnosis",
    "load_published_model_dir",
    "postprocess",
    "rule_tensor",
]
