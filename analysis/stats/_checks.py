"""Input validation shared by the statistics modules (raise ValueError naming the problem)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def as_float_1d(values: Any, name: str) -> NDArray[np.float64]:
    """Return ``values`` as a finite 1-D float array, or raise ValueError naming ``name``."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from exc
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def as_binary(values: Any, name: str) -> NDArray[np.bool_]:
    """Return 0/1 (or boolean) labels as a boolean array, or raise ValueError."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    if array.dtype == bool:
        return array
    try:
        numeric = array.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must hold 0/1 labels: {exc}") from exc
    if not np.all(np.isfinite(numeric)):
        raise ValueError(f"{name} contains NaN")
    bad = ~np.isin(numeric, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"{name} must hold only 0 and 1, found {numeric[bad][0]!r}")
    return numeric == 1.0


def check_level(level: float) -> float:
    """Validate a confidence level in (0, 1)."""
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    return float(level)


def check_alternative(alternative: str) -> str:
    """Validate an alternative hypothesis name."""
    if alternative not in ("two-sided", "less", "greater"):
        raise ValueError(
            f"alternative must be 'two-sided', 'less' or 'greater', got {alternative!r}"
        )
    return alternative


def has_both_classes(y_true: Any) -> bool:
    """Whether the 0/1 labels ``y_true`` hold at least one positive and one negative."""
    labels = np.asarray(y_true)
    return bool(labels.size) and 0 < int(np.count_nonzero(labels)) < labels.size


def both_classes(y_true: Any, name: str) -> None:
    """Raise ValueError when ``y_true`` holds one class only."""
    if not has_both_classes(y_true):
        raise ValueError(f"{name} holds only one class; both positives and negatives are needed")
