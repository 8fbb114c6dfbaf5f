"""The published networks as ONNX graphs, and the onnxruntime engine that runs them.

Why: the platform's CPU target is two cores, where the published detector runs at about one
frame per second in PyTorch eager mode. onnxruntime runs the same graphs with its own fused
kernels; the paper names portable (non-PyTorch) deployment as future work. The processing is
unchanged: the same inputs go in (``detector_input``, ``diagnosis_pixels`` and the seeded
test-time passes, computed in PyTorch as before), the same raw outputs come out, and the
same post-processing and case rule follow. Only the arithmetic of the two networks moves to
another engine; :data:`PARITY_TOLERANCE` bounds the difference (tested).

Layout, next to the weights of a published model directory (``export-onnx`` writes it;
``import-published --onnx`` does so at import)::

    MODEL_DIR/onnx/onnx.json       format, opset, versions, SHA-256 of every graph and of the
                                   safetensors file each was exported from
    MODEL_DIR/onnx/detector.onnx   images [B, 3, 640, 640] → pred_logits [B, 300, 15],
                                   pred_boxes [B, 300, 5]
    MODEL_DIR/onnx/fold_<k>.onnx   images [N, 3, 256, 256], bag_lengths [B] → case_logits
                                   [B, 2], image_logits [N, 6], plane_logits [N, 5]

Every graph's SHA-256 is checked when it is loaded, and the sidecar's source SHA-256 must be
those in ``published.json``: graphs exported from other weights are refused, not used.

Engines (``--engine`` on ``run`` and ``extract``): ``torch``; ``onnxruntime`` (CPU, float32;
refused when the graphs are absent); ``auto`` (the default): onnxruntime when the graphs are
present and the run is float32 on the CPU, PyTorch otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from core.files import file_sha256
from inference.ncls.onnx_export import OPSET, export_module

from .detector import INPUT_SIZE as DETECTOR_SIZE
from .detector import NUM_CLASSES, NUM_QUERIES
from .diagnosis import INPUT_SIZE as DIAGNOSIS_SIZE
from .model_dir import ModelDirError, load_published_model_dir, read_record

if TYPE_CHECKING:
    import onnxruntime

__all__ = [
    "AUTO",
    "ENGINES",
    "ONNXRUNTIME",
    "PARITY_TOLERANCE",
    "TORCH",
    "OnnxEngine",
    "export_published",
    "load_engine",
    "onnx_dir",
    "resolve_engine",
    "session_options",
]

TORCH = "torch"
ONNXRUNTIME = "onnxruntime"
AUTO = "auto"
ENGINES: tuple[str, ...] = (TORCH, ONNXRUNTIME, AUTO)

FORMAT = "ncls-published-onnx/1"
ONNX_DIR = "onnx"
SIDECAR = "onnx.json"
DETECTOR_ONNX = "detector.onnx"
DETECTOR_INPUTS = ("images",)
DETECTOR_OUTPUTS = ("pred_logits", "pred_boxes")
DIAGNOSIS_INPUTS = ("images", "bag_lengths")
DIAGNOSIS_OUTPUTS = ("case_logits", "image_logits", "plane_logits")
#: Largest absolute difference between onnxruntime and PyTorch on every raw output (logits,
#: box coordinates), float32 on both sides (tested on golden-rule weights).
PARITY_TOLERANCE = 1e-4


class DetectorGraph(nn.Module):
    """The published detector with tensor outputs ``(pred_logits, pred_boxes)``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(images)
        return out["pred_logits"], out["pred_boxes"]


def export_detector_graph(model: nn.Module, path: Path) -> Path:
    """Export the published detector (a float32 CPU copy) to ``path``, batch axis dynamic."""
    # Batch 2 when tracing so that no size-1 axis can be folded into a constant.
    example = torch.rand(
        2, 3, DETECTOR_SIZE, DETECTOR_SIZE, generator=torch.Generator().manual_seed(0)
    )
    return export_module(
        DetectorGraph(model),
        (example,),
        path,
        input_names=DETECTOR_INPUTS,
        output_names=DETECTOR_OUTPUTS,
    )


def export_diagnosis_graph(net: nn.Module, path: Path) -> Path:
    """Export one diagnosis fold to ``path``; images and bag lengths both dynamic on axis 0."""
    generator = torch.Generator().manual_seed(0)
    # Two bags of unequal lengths, no axis of size 1 (it could be folded into a constant);
    # the views' axis and the cases' axis are dynamic.
    images = torch.randn(5, 3, DIAGNOSIS_SIZE, DIAGNOSIS_SIZE, generator=generator)
    lengths = torch.tensor([3, 2])
    return export_module(
        net,
        (images, lengths),
        path,
        input_names=DIAGNOSIS_INPUTS,
        output_names=DIAGNOSIS_OUTPUTS,
    )


def onnx_dir(model_dir: str | Path) -> Path:
    """Where ``auto`` looks for a published model directory's graphs."""
    return Path(model_dir) / ONNX_DIR


def export_published(model_dir: str | Path, out: str | Path | None = None) -> Path:
    """Export the detector (if imported) and the five folds of ``model_dir``; return the sidecar.

    ``out`` defaults to ``MODEL_DIR/onnx`` (where ``--engine auto`` finds them). The graphs are
    written beside ``out`` and renamed into place, so an interrupted export leaves no sidecar
    pointing at half-written graphs; an existing export at ``out`` is replaced.
    """
    models = load_published_model_dir(model_dir, detector=False, diagnosis=True)
    record = models.record
    target = Path(out) if out is not None else onnx_dir(model_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    work.chmod(0o755)
    try:
        folds = []
        exported: dict[str, Path] = {}  # source SHA-256 → graph: equal weights, equal graph
        for entry, net in zip(record["diagnosis"]["folds"], models.folds, strict=True):
            name = f"fold_{entry['fold']}.onnx"
            if entry["sha256"] in exported:
                try:  # a hard link: the same bytes, no second copy on disk
                    os.link(exported[entry["sha256"]], work / name)
                except OSError:
                    shutil.copyfile(exported[entry["sha256"]], work / name)
            else:
                exported[entry["sha256"]] = export_diagnosis_graph(net, work / name)
            folds.append(
                {
                    "fold": entry["fold"],
                    "onnx": name,
                    "sha256": file_sha256(work / name),
                    "source_weights": entry["weights"],
                    "source_sha256": entry["sha256"],
                }
            )
        del models
        detector = None
        if record.get("detector"):
            loaded = load_published_model_dir(model_dir, detector=True, diagnosis=False)
            assert loaded.detector is not None
            export_detector_graph(loaded.detector, work / DETECTOR_ONNX)
            detector = {
                "onnx": DETECTOR_ONNX,
                "sha256": file_sha256(work / DETECTOR_ONNX),
                "source_weights": record["detector"]["weights"],
                "source_sha256": record["detector"]["sha256"],
            }
        sidecar = {
            "format": FORMAT,
            "model_version": record["version"],
            "opset": OPSET,
            "torch": torch.__version__,
            "exporter": "torch.onnx.export (TorchScript tracing)",
            "tolerance": PARITY_TOLERANCE,
            "detector": detector,
            "diagnosis": {"folds": folds},
            "graphs": {
                "detector": {
                    "inputs": {"images": ["batch", 3, DETECTOR_SIZE, DETECTOR_SIZE]},
                    "outputs": {
                        "pred_logits": ["batch", NUM_QUERIES, NUM_CLASSES],
                        "pred_boxes": ["batch", NUM_QUERIES, 5],
                    },
                    "meaning": "detector_input of each frame (RGB, [0, 1]); raw head outputs",
                },
                "diagnosis": {
                    "inputs": {
                        "images": ["views", 3, DIAGNOSIS_SIZE, DIAGNOSIS_SIZE],
                        "bag_lengths": ["cases"],
                    },
                    "outputs": {
                        "case_logits": ["cases", 2],
                        "image_logits": ["views", 6],
                        "plane_logits": ["views", 5],
                    },
                    "meaning": "normalised B, G, R views of several cases one after the other",
                },
            },
        }
        (work / SIDECAR).write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target / SIDECAR


def session_options(threads: int | None = None) -> onnxruntime.SessionOptions:
    """Options for a small CPU: ``threads`` intra-op threads (default: torch's count), one
    inter-op thread, sequential execution, every graph optimisation."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = int(threads or torch.get_num_threads())
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def _session(path: Path, threads: int | None) -> onnxruntime.InferenceSession:
    import onnxruntime

    return onnxruntime.InferenceSession(
        str(path), session_options(threads), providers=["CPUExecutionProvider"]
    )


class OrtDetectorNet:
    """The detector graph called like the PyTorch detector: images → dict of raw outputs."""

    def __init__(self, session: onnxruntime.InferenceSession) -> None:
        self.session = session

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        feed = {"images": np.ascontiguousarray(images.detach().cpu().numpy(), dtype=np.float32)}
        logits, boxes = self.session.run(list(DETECTOR_OUTPUTS), feed)
        return {"pred_logits": torch.from_numpy(logits), "pred_boxes": torch.from_numpy(boxes)}


class OrtDiagnosisNet:
    """One fold's graph called like :class:`PublishedDiagnosisNet`: (images, lengths) → logits."""

    def __init__(self, session: onnxruntime.InferenceSession) -> None:
        self.session = session

    def __call__(
        self, images: torch.Tensor, bag_lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        feed = {
            "images": np.ascontiguousarray(images.detach().cpu().numpy(), dtype=np.float32),
            "bag_lengths": np.asarray(bag_lengths, dtype=np.int64).reshape(-1),
        }
        case, image, plane = self.session.run(list(DIAGNOSIS_OUTPUTS), feed)
        return torch.from_numpy(case), torch.from_numpy(image), torch.from_numpy(plane)


def read_sidecar(model_dir: str | Path) -> dict[str, Any] | None:
    """The graphs' record of ``model_dir`` (None when it has no ``onnx/onnx.json``).

    Raises :class:`ModelDirError` when the record is unreadable or was exported from other
    weights than those ``published.json`` records.
    """
    path = onnx_dir(model_dir) / SIDECAR
    if not path.is_file():
        return None
    try:
        sidecar: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelDirError(f"{path}: unreadable ({error})") from None
    if not isinstance(sidecar, dict) or sidecar.get("format") != FORMAT:
        raise ModelDirError(f"{path}: not a {FORMAT} record")
    record = read_record(model_dir)
    expected = {int(e["fold"]): e["sha256"] for e in record["diagnosis"]["folds"]}
    found = {int(e["fold"]): e["source_sha256"] for e in sidecar["diagnosis"]["folds"]}
    stale = found != expected
    if record.get("detector"):
        exported = sidecar.get("detector") or {}
        stale = stale or exported.get("source_sha256") != record["detector"]["sha256"]
    if stale:
        raise ModelDirError(
            f"{path}: the graphs were exported from other weights than {model_dir} holds; "
            "export them again (export-onnx) or run with --engine torch"
        )
    return sidecar


def _verified_graph(directory: Path, entry: Mapping[str, Any]) -> Path:
    path = directory / str(entry["onnx"])
    if not path.is_file():
        raise ModelDirError(f"{path}: ONNX graph missing")
    actual = file_sha256(path)
    if actual != entry["sha256"]:
        raise ModelDirError(
            f"{path}: SHA-256 {actual} differs from {entry['sha256']} recorded in {SIDECAR}"
        )
    return path


@dataclass(frozen=True)
class OnnxEngine:
    """Loaded onnxruntime sessions of a published model directory."""

    sidecar: dict[str, Any]
    detector: OrtDetectorNet | None
    folds: tuple[OrtDiagnosisNet, ...]

    def describe(self) -> dict[str, Any]:
        """What a result records about the engine."""
        import onnxruntime

        return {
            "engine": ONNXRUNTIME,
            "onnxruntime": onnxruntime.__version__,
            "opset": self.sidecar.get("opset"),
        }


def load_engine(
    model_dir: str | Path,
    *,
    detector: bool = True,
    diagnosis: bool = True,
    threads: int | None = None,
) -> OnnxEngine:
    """Sessions for the graphs of ``model_dir`` (SHA-256 of each graph checked)."""
    sidecar = read_sidecar(model_dir)
    if sidecar is None:
        raise ModelDirError(
            f"{model_dir}: no ONNX graphs ({ONNX_DIR}/{SIDECAR}); make them with "
            f"`python -m inference.ncls export-onnx --models {model_dir}`"
        )
    directory = onnx_dir(model_dir)
    loaded_detector = None
    if detector:
        if not sidecar.get("detector"):
            raise ModelDirError(f"{directory}: no detector graph was exported")
        loaded_detector = OrtDetectorNet(
            _session(_verified_graph(directory, sidecar["detector"]), threads)
        )
    folds: tuple[OrtDiagnosisNet, ...] = ()
    if diagnosis:
        folds = tuple(
            OrtDiagnosisNet(_session(_verified_graph(directory, entry), threads))
            for entry in sidecar["diagnosis"]["folds"]
        )
    return OnnxEngine(sidecar, loaded_detector, folds)


def resolve_engine(
    engine: str, model_dir: str | Path, device: str = "cpu", dtype: torch.dtype = torch.float32
) -> str:
    """``torch`` or ``onnxruntime`` for ``engine`` on ``model_dir``; ValueError when refused.

    ``auto`` takes onnxruntime only when the graphs are present (and exported from these
    weights) and the run is float32 on the CPU, where the graphs run; otherwise PyTorch.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == TORCH:
        return TORCH
    on_cpu = torch.device(device).type == "cpu" and dtype == torch.float32
    present = (onnx_dir(model_dir) / SIDECAR).is_file()
    if engine == AUTO:
        if on_cpu and present:
            read_sidecar(model_dir)  # stale graphs are an error, not a silent fallback
            return ONNXRUNTIME
        return TORCH
    if not on_cpu:
        raise ValueError(
            "--engine onnxruntime runs float32 on the CPU (--device cpu, --dtype fp32)"
        )
    if not present:
        raise ModelDirError(
            f"{model_dir}: no ONNX graphs ({ONNX_DIR}/{SIDECAR}); make them with "
            f"`python -m inference.ncls export-onnx --models {model_dir}`"
        )
    return ONNXRUNTIME
