"""Dorfman–Berbaum–Metz analysis: the ANOVA of jackknife pseudovalues, with Hillis' df."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from analysis.stats._checks import check_level
from analysis.stats.hillis import f_test_pvalue, hillis_ddf
from analysis.stats.mrmc.design import _design, _validate_options
from analysis.stats.mrmc.figures import _figures
from analysis.stats.results import ConfidenceInterval, DBMResult


def mrmc_dbm(
    data: Any,
    readers: str = "random",
    cases: str = "random",
    endpoint: str = "auc",
    threshold: float | None = None,
    level: float = 0.95,
) -> DBMResult:
    """Dorfman–Berbaum–Metz analysis of jackknife pseudovalues, Hillis df.

    Parameters are those of :func:`~analysis.stats.mrmc.mrmc_or` (the covariance is always the
    jackknife: the pseudovalues are its by-product). With random readers and cases
    the result equals OR with jackknife covariance (Hillis 2005).

    Returns
    -------
    DBMResult
        Mean squares of the modality x reader x case ANOVA of pseudovalues and the test.

    References
    ----------
    Dorfman DD, Berbaum KS, Metz CE. Receiver operating characteristic rating analysis:
    generalization to the population of readers and patients with the jackknife
    method. Invest Radiol 1992;27:723–731. Hillis SL, Obuchowski NA, Schartz KM,
    Berbaum KS. A comparison of the Dorfman-Berbaum-Metz and Obuchowski-Rockette
    methods for receiver operating characteristic (ROC) data. Stat Med 2005;24:1579–1607.
    """
    level = check_level(level)
    _validate_options("jackknife", readers, cases, endpoint, threshold)
    level = check_level(level)
    _validate_options("jackknife", readers, cases, endpoint, threshold)
    design = _design(data)
    t, r, _ = design.ratings.shape
    if t < 2 or r < 2:
        raise ValueError("mrmc_dbm needs at least two modalities and two readers")
    rows = design.ratings.reshape(t * r, -1)
    figures = _figures(rows, design.truth, endpoint, threshold)
    c = figures.leave_out.shape[1]
    pseudo = (c * figures.theta[:, None] - (c - 1) * figures.leave_out).reshape(t, r, c)
    squares = _pseudovalue_anova(pseudo)

    theta = figures.theta.reshape(t, r)
    by_t = theta.mean(axis=1)
    difference = float(by_t[0] - by_t[1])
    denominator, df_den, method = _dbm_denominator(squares, readers, cases, t, r, c)
    statistic = squares.ms_t / denominator
    pvalue = f_test_pvalue(statistic, t - 1, df_den)
    half = stats.t.ppf(0.5 + level / 2, df_den) * np.sqrt(2 * denominator / (r * c))
    return DBMResult(
        auc={m: float(v) for m, v in zip(design.modalities, by_t, strict=True)},
        difference=difference,
        ci=ConfidenceInterval(difference - half, difference + half, level, method),
        statistic=float(statistic),
        df_num=float(t - 1),
        df_den=float(df_den),
        pvalue=pvalue,
        ms_t=float(squares.ms_t),
        ms_r=float(squares.ms_r),
        ms_c=float(squares.ms_c),
        ms_tr=float(squares.ms_tr),
        ms_tc=float(squares.ms_tc),
        ms_rc=float(squares.ms_rc),
        ms_trc=float(squares.ms_trc),
        readers=readers,
        cases=cases,
        method=f"Dorfman-Berbaum-Metz ({method}; {endpoint})",
    )


@dataclass(frozen=True)
class _PseudovalueSquares:
    """Mean squares of the modality (T) × reader (R) × case (C) ANOVA of pseudovalues."""

    ms_t: float
    ms_r: float
    ms_c: float
    ms_tr: float
    ms_tc: float
    ms_rc: float
    ms_trc: float


def _pseudovalue_anova(pseudo: NDArray[np.float64]) -> _PseudovalueSquares:
    """The three-way ANOVA (one pseudovalue per cell) of a modality × reader × case array."""
    t, r, c = pseudo.shape
    grand = pseudo.mean()
    m_t = pseudo.mean(axis=(1, 2))
    m_r = pseudo.mean(axis=(0, 2))
    m_c = pseudo.mean(axis=(0, 1))
    m_tr = pseudo.mean(axis=2)
    m_tc = pseudo.mean(axis=1)
    m_rc = pseudo.mean(axis=0)
    ms_t = r * c * np.sum((m_t - grand) ** 2) / (t - 1)
    ms_r = t * c * np.sum((m_r - grand) ** 2) / (r - 1)
    ms_c = t * r * np.sum((m_c - grand) ** 2) / (c - 1)
    ms_tr = c * np.sum((m_tr - m_t[:, None] - m_r[None, :] + grand) ** 2) / ((t - 1) * (r - 1))
    ms_tc = r * np.sum((m_tc - m_t[:, None] - m_c[None, :] + grand) ** 2) / ((t - 1) * (c - 1))
    ms_rc = t * np.sum((m_rc - m_r[:, None] - m_c[None, :] + grand) ** 2) / ((r - 1) * (c - 1))
    resid = (
        pseudo
        - m_tr[:, :, None]
        - m_tc[:, None, :]
        - m_rc[None, :, :]
        + m_t[:, None, None]
        + m_r[None, :, None]
        + m_c[None, None, :]
        - grand
    )
    ms_trc = np.sum(resid**2) / ((t - 1) * (r - 1) * (c - 1))
    return _PseudovalueSquares(ms_t, ms_r, ms_c, ms_tr, ms_tc, ms_rc, ms_trc)


def _dbm_denominator(
    squares: _PseudovalueSquares, readers: str, cases: str, t: int, r: int, c: int
) -> tuple[float, float, str]:
    """The F denominator, its df and the method's name for RRRC, FRRC or RRFC."""
    if readers == "random" and cases == "random":
        denominator = squares.ms_tr + max(squares.ms_tc - squares.ms_trc, 0.0)
        df_den = hillis_ddf(denominator, squares.ms_tr, (t - 1) * (r - 1))
        method = "DBM RRRC, Hillis ddf" + (" (infinite: MS(T*R) = 0)" if np.isinf(df_den) else "")
        return denominator, df_den, method
    if readers == "fixed":
        return squares.ms_tc, float((t - 1) * (c - 1)), "DBM FRRC"
    return squares.ms_tr, float((t - 1) * (r - 1)), "DBM RRFC"
