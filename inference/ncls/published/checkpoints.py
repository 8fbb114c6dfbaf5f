"""Reading the NCLS authors' published checkpoint files, safely and strictly.

Why this module exists: the authors' files are PyTorch pickles downloaded from a third party.
A pickle can run arbitrary code when loaded, so every file is read with
``torch.load(..., weights_only=True)`` and nothing else: tensors and plain containers only.
Every problem — not a checkpoint, damaged, truncated, refused by the safe unpickler, weights
for another network — becomes one :class:`CheckpointError` whose message names the file and
the offending keys, so the command line can print it without a traceback.

Layouts (README "Facts"): the detector's weights are under ``['ema']['module']`` when an
``ema`` entry exists, otherwise under ``['model']``; each diagnosis fold file keeps its weights
under ``['model']`` with keys possibly prefixed ``module.`` (saved from a data-parallel
wrapper), which is stripped. The expected keys are those of our own network's ``state_dict``.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .diagnosis import PublishedDiagnosisNet, build_diagnosis

__all__ = [
    "CheckpointError",
    "check_state",
    "detector_state",
    "diagnosis_state",
    "load_detector",
    "load_diagnosis",
    "load_state_strict",
    "read_checkpoint",
]

#: How many offending keys of each kind a message lists before "… and N more".
SHOWN_KEYS = 5
_DATA_PARALLEL_PREFIX = "module."


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint of the expected network (message says why)."""


def _first_line_with(message: str, *needles: str) -> str | None:
    """The first line of ``message`` containing one of ``needles``, stripped."""
    for line in message.splitlines():
        if any(needle in line for needle in needles):
            return line.strip()
    return None


def _explain_load_failure(error: Exception) -> str:
    """A one-line reason for a failed ``torch.load``, without the library's advice.

    PyTorch's own message suggests retrying with ``weights_only=False``, which is exactly
    what must never be done with a third-party file, so it is not passed on.
    """
    message = str(error)
    if isinstance(error, pickle.UnpicklingError):
        blocked = _first_line_with(message, "GLOBAL", "Unsupported global")
        if blocked:
            return f"refused by the safe loader, the pickle would load code ({blocked})"
        detail = (
            _first_line_with(message, "Unsupported operand", "invalid load key")
            or "unreadable pickle"
        )
        return f"not a PyTorch checkpoint ({detail})"
    if isinstance(error, EOFError):
        return "empty or truncated file"
    if isinstance(error, RuntimeError) and "zip archive" in message:
        return f"damaged or truncated file ({message.splitlines()[0].strip()})"
    first = message.splitlines()[0].strip() if message else ""
    return f"not a readable PyTorch checkpoint ({type(error).__name__}: {first})"


def read_checkpoint(path: str | Path) -> Any:
    """The unpickled content of ``path`` via ``torch.load(weights_only=True)``, on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            # e.g. "Detected pickle protocol 4": noise for a file we are about to refuse.
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any parse failure of untrusted bytes means "not a checkpoint"
        raise CheckpointError(f"{path}: {_explain_load_failure(error)}") from None


def _entry(content: Any, key: str, path: Path, where: str) -> Any:
    """``content[key]`` or a :class:`CheckpointError` saying what the file holds instead."""
    if not isinstance(content, Mapping):
        raise CheckpointError(
            f"{path}: expected a dictionary at {where}, found {type(content).__name__}"
        )
    if key not in content:
        found = ", ".join(repr(k) for k in list(content)[:SHOWN_KEYS]) or "nothing"
        raise CheckpointError(f"{path}: no {key!r} entry at {where} (it has {found})")
    return content[key]


def _tensor_dict(content: Any, path: Path, where: str) -> dict[str, torch.Tensor]:
    """Check that ``content`` maps names to tensors; return it as a plain dict."""
    if not isinstance(content, Mapping):
        raise CheckpointError(
            f"{path}: expected the weights at {where}, found {type(content).__name__}"
        )
    not_tensors = [
        str(k)
        for k, v in content.items()
        if not isinstance(k, str) or not isinstance(v, torch.Tensor)
    ]
    if not_tensors:
        raise CheckpointError(
            f"{path}: {len(not_tensors)} entr{'y' if len(not_tensors) == 1 else 'ies'} at {where} "
            f"not a named tensor: {_listing(not_tensors)}"
        )
    return dict(content)


def detector_state(path: str | Path) -> dict[str, torch.Tensor]:
    """An authors' file's detector weights: ``['ema']['module']`` if present, else ``['model']``."""
    path = Path(path)
    content = read_checkpoint(path)
    if isinstance(content, Mapping) and "ema" in content:
        return _tensor_dict(
            _entry(content["ema"], "module", path, "['ema']"), path, "['ema']['module']"
        )
    return _tensor_dict(_entry(content, "model", path, "the top level"), path, "['model']")


def diagnosis_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The weights of one authors' fold file (``['model']``), any ``module.`` prefix stripped."""
    path = Path(path)
    state = _tensor_dict(
        _entry(read_checkpoint(path), "model", path, "the top level"), path, "['model']"
    )
    stripped: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        key = name.removeprefix(_DATA_PARALLEL_PREFIX)
        if key in stripped:
            raise CheckpointError(
                f"{path}: key {key!r} appears both with and without the 'module.' prefix"
            )
        stripped[key] = tensor
    return stripped


def _listing(names: list[str]) -> str:
    """``a, b, c`` — the first :data:`SHOWN_KEYS` names, then how many more."""
    shown = ", ".join(names[:SHOWN_KEYS])
    rest = len(names) - SHOWN_KEYS
    return f"{shown}, … and {rest} more" if rest > 0 else shown


def _count(n: int, singular: str, plural: str) -> str:
    return f"{n} {singular if n == 1 else plural}"


def check_state(
    state: Mapping[str, torch.Tensor], module: nn.Module, source: str | Path, what: str
) -> None:
    """Raise :class:`CheckpointError` unless ``state`` has exactly ``module``'s keys and shapes.

    The message lists the missing, unexpected and misshapen keys (first few of each, with
    counts), so a wrong file or a different network is recognisable at a glance.
    """
    expected = {name: tuple(t.shape) for name, t in module.state_dict().items()}
    missing = [name for name in expected if name not in state]
    unexpected = [name for name in state if name not in expected]
    misshapen = [
        f"{name} {list(state[name].shape)} (expected {list(shape)})"
        for name, shape in expected.items()
        if name in state and tuple(state[name].shape) != shape
    ]
    problems = []
    if missing:
        problems.append(
            f"{_count(len(missing), 'missing key', 'missing keys')}: {_listing(missing)}"
        )
    if unexpected:
        problems.append(
            f"{_count(len(unexpected), 'unexpected key', 'unexpected keys')}: "
            f"{_listing(unexpected)}"
        )
    if misshapen:
        problems.append(
            f"{_count(len(misshapen), 'key with the wrong shape', 'keys with the wrong shape')}: "
            f"{_listing(misshapen)}"
        )
    if problems:
        raise CheckpointError(f"{source}: not the weights of the {what} — " + "; ".join(problems))


def load_state_strict(
    module: nn.Module, state: Mapping[str, torch.Tensor], source: str | Path, what: str
) -> None:
    """:func:`check_state`, then copy the tensors in (cast to the module's dtypes)."""
    check_state(state, module, source, what)
    try:
        module.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError) as error:  # e.g. a tensor type that cannot be copied
        raise CheckpointError(
            f"{source}: cannot load into the {what} ({str(error).splitlines()[0]})"
        ) from None


def load_diagnosis(path: str | Path) -> PublishedDiagnosisNet:
    """One authors' diagnosis fold file → the network in eval mode on the CPU."""
    net = build_diagnosis()
    load_state_strict(net, diagnosis_state(path), path, "published diagnosis network")
    return net.eval()


def build_published_detector() -> nn.Module:
    """A fresh published detector (imported lazily: the detector module is heavy and separate)."""
    from .detector import build_detector

    detector: nn.Module = build_detector()
    return detector


def load_detector(path: str | Path) -> nn.Module:
    """The authors' detector file → the network in eval mode on the CPU."""
    state = detector_state(path)
    net = build_published_detector()
    load_state_strict(net, state, path, "published detector")
    return net.eval()
