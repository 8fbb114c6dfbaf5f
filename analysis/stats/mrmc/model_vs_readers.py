"""A standalone model against the mean of random readers (OR single-test analysis)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from analysis.stats._checks import check_level
from analysis.stats.hillis import hillis_ddf
from analysis.stats.mrmc.design import _design, _validate_options
from analysis.stats.mrmc.figures import _covariance, _figures
from analysis.stats.results import ConfidenceInterval, ModelVsReadersResult


def mrmc_model_vs_readers(
    data: Any,
    model_ratings: Any,
    modality: Any = None,
    covariance: str = "jackknife",
    endpoint: str = "auc",
    threshold: float | None = None,
    level: float = 0.95,
) -> ModelVsReadersResult:
    """A standalone model (a fixed reader) against the mean of random readers.

    The reader-minus-model differences d_r = θ_r − θ_model are analysed as a single
    test in the OR model with random readers and cases: SE² = MS_R(d)/R + max(Cov2_d, 0),
    Hillis' single-test df, where Cov2_d is the mean case-sampling covariance between
    two readers' differences (the model's own variance enters through each d_r).

    Parameters
    ----------
    data : pandas.DataFrame
        Columns ``reader, case, truth, rating`` (and ``modality``; then ``modality``
        selects the one analysed).
    model_ratings : pandas.Series or mapping
        The model's score per case, indexed by case id.
    modality : optional
        Which modality of ``data`` to use when it holds several.
    covariance, endpoint, threshold, level
        As for :func:`~analysis.stats.mrmc.mrmc_or`.

    Returns
    -------
    ModelVsReadersResult
        ``difference`` is θ_model − mean θ_readers, with its CI and the t test.

    References
    ----------
    Obuchowski & Rockette 1995; Hillis SL. A comparison of denominator degrees of
    freedom methods for multiple observer ROC analysis. Stat Med 2007;26:596–619
    (single-test analysis).
    """
    level = check_level(level)
    _validate_options(covariance, "random", "random", endpoint, threshold)
    frame = _one_modality(data, modality)
    cases = pd.Index(frame["case"].unique())
    model = _model_scores(model_ratings, cases)
    design = _design(frame)
    case_ids = np.sort(cases.to_numpy())
    model_row = model.reindex(case_ids).to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(model_row)):
        raise ValueError("model_ratings contains NaN or infinite values")
    readers = design.ratings.shape[1]
    if readers < 2:
        raise ValueError("at least two readers are needed")
    rows = np.vstack([design.ratings[0], model_row[None, :]])
    figures = _figures(rows, design.truth, endpoint, threshold)
    cov = _covariance(rows, design.truth, figures, covariance)
    test = _single_test(figures.theta, cov, level)
    theta = figures.theta
    return ModelVsReadersResult(
        model_auc=float(theta[-1]),
        reader_mean_auc=float(theta[:-1].mean()),
        difference=test.difference,
        ci=ConfidenceInterval(
            test.difference - test.half_width,
            test.difference + test.half_width,
            level,
            "OR single-test, Hillis df",
        ),
        statistic=float(test.statistic),
        df=float(test.df),
        pvalue=test.pvalue,
        reader_auc={rd: float(v) for rd, v in zip(design.readers, theta[:-1], strict=True)},
        method=f"model vs random readers, OR single-test ({covariance} covariance; {endpoint})",
    )


def _one_modality(data: Any, modality: Any) -> pd.DataFrame:
    """The rows of the modality analysed (the only one, or the one chosen), as 'readers'."""
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    frame = data.copy()
    if "modality" in frame.columns:
        present = frame["modality"].unique()
        if modality is None:
            if present.size != 1:
                raise ValueError(
                    f"data holds modalities {sorted(present)}; choose one with modality="
                )
        else:
            frame = frame[frame["modality"] == modality]
            if frame.empty:
                raise ValueError(f"modality {modality!r} not in data")
    frame["modality"] = "readers"
    return frame


def _model_scores(model_ratings: Any, cases: pd.Index) -> pd.Series:
    """The model's score per case, checked to hold each of the readers' cases once."""
    model = pd.Series(model_ratings)
    if model.index.has_duplicates:
        raise ValueError("model_ratings has duplicate cases")
    if not cases.isin(model.index).all():
        lacking = cases[~cases.isin(model.index)]
        raise ValueError(f"model_ratings lacks cases {list(lacking[:5])}")
    return model


@dataclass(frozen=True)
class _SingleTest:
    """The t test of the model minus the mean reader, and the half-width of its CI."""

    difference: float
    statistic: float
    df: float
    pvalue: float
    half_width: float


def _single_test(theta: NDArray[np.float64], cov: NDArray[np.float64], level: float) -> _SingleTest:
    """Hillis' single-test analysis of the readers' differences from the model.

    ``theta`` holds the readers' figures of merit then the model's, ``cov`` their
    case-sampling covariance.
    """
    readers = theta.shape[0] - 1
    contrast = np.hstack([np.eye(readers), -np.ones((readers, 1))])
    d = contrast @ theta
    cov_d = contrast @ cov @ contrast.T
    off = ~np.eye(readers, dtype=bool)
    cov2 = max(float(cov_d[off].mean()), 0.0)
    ms_r = float(np.var(d, ddof=1))
    se = np.sqrt(ms_r / readers + cov2)
    df = hillis_ddf(ms_r + readers * cov2, ms_r, readers - 1)
    difference = -float(d.mean())
    statistic = difference / se
    pvalue = float(2 * stats.t.sf(abs(statistic), df))
    half = stats.t.ppf(0.5 + level / 2, df) * se
    return _SingleTest(difference, statistic, df, pvalue, half)
