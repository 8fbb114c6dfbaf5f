"""Hillis' denominator degrees of freedom and the F test they go with.

Shared by the MRMC analyses (:mod:`analysis.stats.mrmc`, :mod:`analysis.stats.splitplot`)
and the power planner (:mod:`analysis.stats.power`), which therefore need not import each
other.

Where MS(T×R) is zero (e.g. every reader's difference between modalities is the same,
so that the reader-by-test variance estimate comes out negative), Hillis' denominator df
is infinite: the F test is then a χ² test and the CI uses the normal quantile, as
MRMCaov and RJafroc report it (df = Inf). Round-off leaves MS(T×R) at ~1e-34 instead of
0 and the df at ~1e59; such a df is reported as ∞.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["f_test_pvalue", "hillis_ddf"]

#: MS(T×R) at or below this fraction of the F denominator is round-off of an exact zero.
_ZERO_MS_TR = 1e-12


def hillis_ddf(denominator: float, ms_tr: float, df_tr: float) -> float:
    """Hillis' denominator df, ``denominator² / (MS(T×R)² / df_tr)``; ∞ when MS(T×R) is 0.

    References
    ----------
    Hillis SL. A comparison of denominator degrees of freedom methods for multiple
    observer ROC analysis. Stat Med 2007;26:596–619.
    """
    if ms_tr <= _ZERO_MS_TR * abs(denominator) or ms_tr <= 0.0:
        return float("inf")
    return float(denominator**2 / (ms_tr**2 / df_tr))


def f_test_pvalue(statistic: float, df_num: float, df_den: float) -> float:
    """Upper tail of F(df_num, df_den); χ²(df_num)/df_num when df_den is infinite."""
    if np.isinf(df_den):
        return float(stats.chi2.sf(statistic * df_num, df_num))
    return float(stats.f.sf(statistic, df_num, df_den))
