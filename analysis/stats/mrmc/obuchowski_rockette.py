"""Obuchowski–Rockette analysis of reader figures of merit, with Hillis' denominator df."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from analysis.stats._checks import both_classes, check_level
from analysis.stats.hillis import f_test_pvalue, hillis_ddf
from analysis.stats.mrmc.design import _Design, _design, _validate_options
from analysis.stats.mrmc.figures import _covariance, _figures
from analysis.stats.results import ConfidenceInterval, MRMCResult


def _or_components(cov: NDArray[np.float64], t: int, r: int) -> tuple[float, float, float, float]:
    """Var, Cov1 (same reader), Cov2 (same modality), Cov3 (neither) as averages."""
    blocks = cov.reshape(t, r, t, r)
    same_t = np.eye(t, dtype=bool)[:, None, :, None]
    same_r = np.eye(r, dtype=bool)[None, :, None, :]

    def mean_of(mask: NDArray[np.bool_]) -> float:
        full = np.broadcast_to(mask, blocks.shape)
        return float(blocks[full].mean()) if full.any() else float("nan")

    var = mean_of(same_t & same_r)
    cov1 = mean_of(~same_t & same_r)
    cov2 = mean_of(same_t & ~same_r)
    cov3 = mean_of(~same_t & ~same_r)
    return var, cov1, cov2, cov3


def mrmc_or(
    data: Any,
    covariance: str = "jackknife",
    readers: str = "random",
    cases: str = "random",
    endpoint: str = "auc",
    threshold: float | None = None,
    level: float = 0.95,
) -> MRMCResult:
    """Obuchowski–Rockette MRMC analysis with Hillis' denominator degrees of freedom.

    Parameters
    ----------
    data : pandas.DataFrame
        Long format with columns ``reader, modality, case, truth, rating``; a fully
        crossed design (every reader reads every case in every modality).
    covariance : {"jackknife", "delong", "unbiased"}
        Estimator of the case-sampling covariances of the reader figures of merit.
    readers, cases : {"random", "fixed"}
        Random readers and cases (RRRC) is the default; fixed readers give a χ² test.
    endpoint : {"auc", "sensitivity", "specificity"}
        Empirical AUC (ties ½) or the binary metric at ``rating >= threshold``; for
        the binary metrics the jackknife runs over the cases of the truth class the
        metric is computed on (as MRMCaov does).
    threshold : float, optional
    level : float
        Level of the CI of the difference.

    Returns
    -------
    MRMCResult
        ``difference`` is the first minus the second modality (sorted by value); with
        more than two modalities the test is global and ``difference``/``ci`` concern
        the first pair.

    References
    ----------
    Obuchowski NA, Rockette HE. Hypothesis testing of diagnostic accuracy for multiple
    readers and multiple tests: an ANOVA approach with dependent observations. Commun
    Stat Simul Comput 1995;24:285–308. Hillis SL. A comparison of denominator degrees
    of freedom methods for multiple observer ROC analysis. Stat Med 2007;26:596–619.
    Hillis SL, Berbaum KS, Metz CE. Recent developments in the Dorfman-Berbaum-Metz
    procedure for multireader ROC study analysis. Acad Radiol 2008;15:647–661.
    """
    level = check_level(level)
    _validate_options(covariance, readers, cases, endpoint, threshold)
    return _or_analysis(_design(data), covariance, readers, cases, endpoint, threshold, level)


def mrmc_or_arrays(
    ratings: NDArray[np.float64],
    truth: NDArray[np.bool_],
    covariance: str = "jackknife",
    readers: str = "random",
    cases: str = "random",
    endpoint: str = "auc",
    threshold: float | None = None,
    level: float = 0.95,
) -> MRMCResult:
    """:func:`mrmc_or` of a ratings array (modality × reader × case) and case truths.

    The same analysis without the long-format bookkeeping, for simulations that run it
    thousands of times; modalities and readers are numbered from 0.
    """
    level = check_level(level)
    _validate_options(covariance, readers, cases, endpoint, threshold)
    values = np.asarray(ratings, dtype=np.float64)
    labels = np.asarray(truth, dtype=bool)
    if values.ndim != 3 or labels.shape != (values.shape[2],):
        raise ValueError("ratings must be modality x reader x case and truth one value per case")
    if not np.all(np.isfinite(values)):
        raise ValueError("ratings contain NaN or infinite values")
    both_classes(labels, "truth")
    design = _Design(values, labels, tuple(range(values.shape[0])), tuple(range(values.shape[1])))
    return _or_analysis(design, covariance, readers, cases, endpoint, threshold, level)


def _or_mean_squares(theta: NDArray[np.float64]) -> tuple[float, float, float]:
    """MS(T), MS(R) and MS(T×R) of the modality × reader ANOVA of the figures of merit."""
    t, r = theta.shape
    grand = theta.mean()
    by_t = theta.mean(axis=1)
    by_r = theta.mean(axis=0)
    ms_t = r * np.sum((by_t - grand) ** 2) / (t - 1)
    ms_r = t * np.sum((by_r - grand) ** 2) / (r - 1) if r > 1 else float("nan")
    resid = theta - by_t[:, None] - by_r[None, :] + grand
    ms_tr = np.sum(resid**2) / ((t - 1) * (r - 1)) if r > 1 else float("nan")
    return ms_t, ms_r, ms_tr


@dataclass(frozen=True)
class _ORTest:
    """The test of equal modalities and the half-width of the CI of their difference."""

    statistic: float
    df_den: float | None  # None for the χ² test of fixed readers
    pvalue: float
    half_width: float
    method: str


def _or_test(
    *,
    ms_t: float,
    ms_tr: float,
    var: float,
    cov1: float,
    spread: float,
    t: int,
    r: int,
    readers: str,
    cases: str,
    level: float,
) -> _ORTest:
    """The F test (RRRC: Hillis ddf; RRFC) or χ² test (FRRC) of the analysis chosen.

    ``spread`` is max(Cov2 − Cov3, 0), the case-sampling part of the reader spread.
    """
    if readers == "random" and cases == "random":
        denominator = ms_tr + r * spread
        statistic = ms_t / denominator
        hillis = hillis_ddf(denominator, ms_tr, (t - 1) * (r - 1))
        pvalue = f_test_pvalue(statistic, t - 1, hillis)
        half = stats.t.ppf(0.5 + level / 2, hillis) * np.sqrt(2 * denominator / r)
        method = "OR RRRC, Hillis ddf" + (" (infinite: MS(T*R) = 0)" if np.isinf(hillis) else "")
        return _ORTest(statistic, hillis, pvalue, half, method)
    if readers == "fixed":
        denominator = var - cov1 + (r - 1) * spread
        statistic = (t - 1) * ms_t / denominator
        pvalue = float(stats.chi2.sf(statistic, t - 1))
        half = stats.norm.ppf(0.5 + level / 2) * np.sqrt(2 * denominator / r)
        return _ORTest(statistic, None, pvalue, half, "OR FRRC, chi-square")
    statistic = ms_t / ms_tr
    df_den = float((t - 1) * (r - 1))
    pvalue = float(stats.f.sf(statistic, t - 1, df_den))
    half = stats.t.ppf(0.5 + level / 2, df_den) * np.sqrt(2 * ms_tr / r)
    return _ORTest(statistic, df_den, pvalue, half, "OR RRFC (ANOVA of reader figures of merit)")


def _or_analysis(
    design: _Design,
    covariance: str,
    readers: str,
    cases: str,
    endpoint: str,
    threshold: float | None,
    level: float,
) -> MRMCResult:
    t, r, _ = design.ratings.shape
    if t < 2:
        raise ValueError("mrmc_or needs at least two modalities")
    if r < 2 and readers == "random":
        raise ValueError("random readers need at least two readers")
    rows = design.ratings.reshape(t * r, -1)
    figures = _figures(rows, design.truth, endpoint, threshold)
    theta = figures.theta.reshape(t, r)
    cov = _covariance(rows, design.truth, figures, covariance)
    var, cov1, cov2, cov3 = _or_components(cov, t, r)
    ms_t, ms_r, ms_tr = _or_mean_squares(theta)
    var_tr = ms_tr - var + cov1 + cov2 - cov3
    var_r = (ms_r - var_tr - var - (t - 1) * cov1 + cov2 + (t - 1) * cov3) / t
    test = _or_test(
        ms_t=ms_t,
        ms_tr=ms_tr,
        var=var,
        cov1=cov1,
        spread=max(cov2 - cov3, 0.0),
        t=t,
        r=r,
        readers=readers,
        cases=cases,
        level=level,
    )
    by_t = theta.mean(axis=1)
    difference = float(by_t[0] - by_t[1])
    half = test.half_width
    reader_auc = pd.DataFrame(
        theta.T,
        index=pd.Index(design.readers, name="reader"),
        columns=pd.Index(design.modalities, name="modality"),
    )
    return MRMCResult(
        auc={m: float(v) for m, v in zip(design.modalities, by_t, strict=True)},
        reader_auc=reader_auc,
        difference=difference,
        ci=ConfidenceInterval(difference - half, difference + half, level, test.method),
        statistic=float(test.statistic),
        df_num=float(t - 1),
        df_den=None if test.df_den is None else float(test.df_den),
        pvalue=test.pvalue,
        var_r=float(var_r),
        var_tr=float(var_tr),
        var_error=var,
        cov1=cov1,
        cov2=cov2,
        cov3=cov3,
        ms_t=float(ms_t),
        ms_r=float(ms_r),
        ms_tr=float(ms_tr),
        n_readers=r,
        n_cases=int(figures.leave_out.shape[1]),
        modalities=design.modalities,
        covariance=covariance,
        readers=readers,
        cases=cases,
        endpoint=endpoint,
        method=f"Obuchowski-Rockette ({test.method}; {covariance} covariance; {endpoint})",
    )
