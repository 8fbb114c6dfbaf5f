"""The fully crossed reader × modality × case design of an MRMC analysis, and its options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analysis.stats._checks import both_classes

_COLUMNS = ("reader", "modality", "case", "truth", "rating")
_COVARIANCES = ("jackknife", "delong", "unbiased")
_ENDPOINTS = ("auc", "sensitivity", "specificity")


@dataclass(frozen=True)
class _Design:
    ratings: NDArray[np.float64]  # modality x reader x case
    truth: NDArray[np.bool_]
    modalities: tuple[Any, ...]
    readers: tuple[Any, ...]


def _design(data: Any, columns: tuple[str, ...] = _COLUMNS) -> _Design:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"data lacks columns {missing}; needs {list(columns)}")
    if data.empty:
        raise ValueError("data is empty")
    frame = data.loc[:, list(columns)]
    if frame.isna().any().any():
        bad = [c for c in columns if frame[c].isna().any()]
        raise ValueError(f"data has missing values in {bad}")
    try:
        rating = frame["rating"].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"rating must be numeric: {exc}") from exc
    if not np.all(np.isfinite(rating)):
        raise ValueError("rating contains infinite values")
    truth_values = frame["truth"].to_numpy()
    if not np.isin(truth_values.astype(np.float64), (0.0, 1.0)).all():
        raise ValueError("truth must hold only 0 and 1")
    mod_codes, modalities = pd.factorize(frame["modality"], sort=True)
    rdr_codes, readers = pd.factorize(frame["reader"], sort=True)
    case_codes, cases = pd.factorize(frame["case"], sort=True)
    shape = (len(modalities), len(readers), len(cases))
    if frame.shape[0] != shape[0] * shape[1] * shape[2]:
        raise ValueError(
            f"design is not fully crossed: {frame.shape[0]} rows for {shape[0]} modalities x "
            f"{shape[1]} readers x {shape[2]} cases"
        )
    flat = (mod_codes * shape[1] + rdr_codes) * shape[2] + case_codes
    if np.bincount(flat, minlength=int(np.prod(shape))).max() > 1:
        raise ValueError("a (modality, reader, case) combination occurs more than once")
    ratings = np.empty(int(np.prod(shape)))
    ratings[flat] = rating
    truth = np.full(shape[2], -1.0)
    truth_numeric = truth_values.astype(np.float64)
    truth[case_codes] = truth_numeric
    if not np.array_equal(truth[case_codes], truth_numeric):
        raise ValueError("truth differs between rows of the same case")
    labels = truth == 1.0
    both_classes(labels, "truth")
    return _Design(ratings.reshape(shape), labels, tuple(modalities), tuple(readers))


def _validate_options(
    covariance: str, readers: str, cases: str, endpoint: str, threshold: float | None
) -> None:
    if covariance not in _COVARIANCES:
        raise ValueError(f"covariance must be one of {_COVARIANCES}, got {covariance!r}")
    if readers not in ("random", "fixed") or cases not in ("random", "fixed"):
        raise ValueError(
            f"readers and cases must be 'random' or 'fixed', got {readers!r}, {cases!r}"
        )
    if readers == "fixed" and cases == "fixed":
        raise ValueError("readers and cases cannot both be fixed")
    if endpoint not in _ENDPOINTS:
        raise ValueError(f"endpoint must be one of {_ENDPOINTS}, got {endpoint!r}")
    if endpoint != "auc" and threshold is None:
        raise ValueError(
            f"endpoint {endpoint!r} needs a threshold (rating >= threshold is positive)"
        )
    if endpoint != "auc" and covariance != "jackknife":
        raise ValueError(f"covariance {covariance!r} applies to endpoint 'auc' only")
