"""The deterministic weight rule of ``/work/shared/published_ncls/README.md``.

Why this exists: the authors' trained checkpoints are not in the repository, yet we must prove
that our re-implementations compute exactly what their code computes. Both sides fill every
state-dict entry from nothing but its name, shape and dtype, so identical weights arise on
either side and the golden outputs can be compared without any weight file. The detector and
the diagnosis network share this rule, hence its own module.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence

import torch

__all__ = ["golden_weights", "rule_tensor"]

_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int64": torch.int64,
    "int32": torch.int32,
    "bool": torch.bool,
}


def _dtype(name: str | torch.dtype) -> torch.dtype:
    """Accept a dtype object or its key-list spelling (``"float32"``, ``"torch.float32"``)."""
    if isinstance(name, torch.dtype):
        return name
    key = name.removeprefix("torch.")
    if key not in _DTYPES:
        raise ValueError(f"unsupported dtype in key list: {name!r}")
    return _DTYPES[key]


def rule_tensor(name: str, shape: Sequence[int], dtype: str | torch.dtype) -> torch.Tensor:
    """The tensor the rule assigns to one state-dict entry.

    The generator is seeded with the CRC-32 of the entry's name, and the tests are applied in
    the README's order (the order matters: ``running_var`` is one-dimensional but must not be
    treated as a ``weight``; a 1-D buffer such as ``num_points_scale`` falls to the last case).
    """
    size = tuple(int(s) for s in shape)
    g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    if name.endswith("num_batches_tracked"):
        value = torch.zeros(size)
    elif name.endswith("running_var"):
        value = 1 + 0.1 * torch.rand(size, generator=g)
    elif len(size) == 1 and name.endswith("weight"):
        value = 1 + 0.1 * torch.randn(size, generator=g)
    elif len(size) >= 2:
        value = torch.randn(size, generator=g) / math.sqrt(math.prod(size[1:]))
    else:
        value = 0.02 * torch.randn(size, generator=g)
    return value.to(_dtype(dtype))


def golden_weights(
    entries: Iterable[Sequence[object]],
) -> dict[str, torch.Tensor]:
    """A full state dict from key-list entries ``[name, shape, dtype]`` (as in the JSON files)."""
    out: dict[str, torch.Tensor] = {}
    for entry in entries:
        if len(entry) != 3:
            raise ValueError(f"key-list entry must be [name, shape, dtype], got {entry!r}")
        name, shape, dtype = entry
        if not isinstance(name, str) or not isinstance(shape, Sequence):
            raise ValueError(f"malformed key-list entry: {entry!r}")
        if not isinstance(dtype, str | torch.dtype):
            raise ValueError(f"malformed dtype in key-list entry: {entry!r}")
        out[name] = rule_tensor(name, [int(s) for s in shape], dtype)
    return out
