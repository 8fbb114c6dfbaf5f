"""Generic ONNX export shared by both NCLS stages (tracing exporter, dynamic batch axis)."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

#: ONNX opset of every exported graph (grid_sample, used by deformable attention, needs ≥ 16).
OPSET = 17


def export_module(
    module: nn.Module,
    example_inputs: tuple[torch.Tensor, ...],
    path: Path,
    *,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_batch: bool = True,
) -> Path:
    """Export a float32 CPU copy of ``module`` in eval mode (the argument is left as it was)
    to ONNX with TorchScript tracing; first axis dynamic."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = copy.deepcopy(module).float().cpu().eval()
    axes = {name: {0: "batch"} for name in (*input_names, *output_names)} if dynamic_batch else None
    with warnings.catch_warnings():
        # The tracing exporter is deprecated in favour of torch.export, which needs onnxscript.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            module,
            example_inputs,
            str(path),
            dynamo=False,
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_axes=axes,
            opset_version=OPSET,
        )
    return path
