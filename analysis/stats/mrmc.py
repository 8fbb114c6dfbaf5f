"""Multi-reader multi-case (MRMC) analysis: Obuchowski–Rockette and DBM with Hillis df,
a model against random readers, and sample size from pilot variance components.

Hand-written because no maintained Python library has OR or DBM analysis (the reference
implementations are R's MRMCaov and RJafroc, the Iowa OR-DBM MRMC program and the FDA's
iMRMC in Java); the tests hold this module to their published output.

Where MS(T×R) is zero (e.g. every reader's difference between modalities is the same,
so that the reader-by-test variance estimate comes out negative), Hillis' denominator df
is infinite: the F test is then a χ² test and the CI uses the normal quantile, as
MRMCaov and RJafroc report it (df = Inf). Round-off leaves MS(T×R) at ~1e-34 instead of
0 and the df at ~1e59; such a df is reported as ∞.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from analysis.stats._checks import both_classes, check_level
from analysis.stats.results import (
    ConfidenceInterval,
    DBMResult,
    ModelVsReadersResult,
    MRMCResult,
    SampleSizeResult,
)
from analysis.stats.roc import auc_kernel, placements

__all__ = ["mrmc_dbm", "mrmc_model_vs_readers", "mrmc_or", "mrmc_or_arrays", "mrmc_sample_size"]

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


@dataclass(frozen=True)
class _Figures:
    theta: NDArray[np.float64]  # k figures of merit (rows of the flattened design)
    leave_out: NDArray[np.float64]  # k x jackknifed cases
    v10: NDArray[np.float64] | None
    v01: NDArray[np.float64] | None
    kernel_rows: NDArray[np.float64] | None


def _figures(
    rows: NDArray[np.float64], truth: NDArray[np.bool_], endpoint: str, threshold: float | None
) -> _Figures:
    """Figures of merit of each row (k x cases) and their leave-one-case-out values."""
    if endpoint == "auc":
        theta, v10, v01 = placements(rows[:, truth], rows[:, ~truth])
        m, n = v10.shape[1], v01.shape[1]
        # Removing one case from a U-statistic: closed form from its placement value.
        drop_pos = (m * theta[:, None] - v10) / (m - 1)
        drop_neg = (n * theta[:, None] - v01) / (n - 1)
        return _Figures(theta, np.hstack([drop_pos, drop_neg]), v10, v01, None)
    assert threshold is not None
    calls = rows >= threshold
    hits = calls[:, truth] if endpoint == "sensitivity" else ~calls[:, ~truth]
    hits = hits.astype(np.float64)
    count = hits.shape[1]
    if count < 2:
        raise ValueError(f"{endpoint} needs at least two cases of its truth class")
    theta = hits.mean(axis=1)
    leave_out = (count * theta[:, None] - hits) / (count - 1)
    return _Figures(theta, leave_out, None, None, None)


def _jackknife_cov(leave_out: NDArray[np.float64]) -> NDArray[np.float64]:
    count = leave_out.shape[1]
    centred = leave_out - leave_out.mean(axis=1, keepdims=True)
    return np.asarray((count - 1) / count * centred @ centred.T, dtype=np.float64)


def _unbiased_cov(rows: NDArray[np.float64], truth: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Unbiased covariance of empirical AUCs (U-statistic moments, Gallas 2007)."""
    psi = auc_kernel(rows[:, truth], rows[:, ~truth])
    m, n = psi.shape[1], psi.shape[2]
    flat = psi.reshape(psi.shape[0], -1)
    s1 = flat @ flat.T
    row_sums = psi.sum(axis=2)  # k x m
    col_sums = psi.sum(axis=1)  # k x n
    same_pos = row_sums @ row_sums.T
    same_neg = col_sums @ col_sums.T
    total = np.outer(flat.sum(axis=1), flat.sum(axis=1))
    m1 = s1 / (m * n)
    m2 = (same_pos - s1) / (m * n * (n - 1))
    m3 = (same_neg - s1) / (m * (m - 1) * n)
    m4 = (total - same_pos - same_neg + s1) / (m * (m - 1) * n * (n - 1))
    return np.asarray((m1 + (n - 1) * m2 + (m - 1) * m3 - (m + n - 1) * m4) / (m * n))


def _covariance(
    rows: NDArray[np.float64], truth: NDArray[np.bool_], figures: _Figures, covariance: str
) -> NDArray[np.float64]:
    if covariance == "jackknife":
        return _jackknife_cov(figures.leave_out)
    if figures.v10 is None or figures.v01 is None:
        raise ValueError(f"covariance {covariance!r} applies to endpoint 'auc' only")
    if covariance == "delong":
        m, n = figures.v10.shape[1], figures.v01.shape[1]
        return np.asarray(np.cov(figures.v10) / m + np.cov(figures.v01) / n)
    return _unbiased_cov(rows, truth)


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


def _f_test(statistic: float, df_num: float, df_den: float) -> float:
    """Upper tail of F(df_num, df_den); χ²(df_num)/df_num when df_den is infinite."""
    if np.isinf(df_den):
        return float(stats.chi2.sf(statistic * df_num, df_num))
    return float(stats.f.sf(statistic, df_num, df_den))


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

    grand = theta.mean()
    by_t = theta.mean(axis=1)
    by_r = theta.mean(axis=0)
    ms_t = r * np.sum((by_t - grand) ** 2) / (t - 1)
    ms_r = t * np.sum((by_r - grand) ** 2) / (r - 1) if r > 1 else float("nan")
    resid = theta - by_t[:, None] - by_r[None, :] + grand
    ms_tr = np.sum(resid**2) / ((t - 1) * (r - 1)) if r > 1 else float("nan")
    var_tr = ms_tr - var + cov1 + cov2 - cov3
    var_r = (ms_r - var_tr - var - (t - 1) * cov1 + cov2 + (t - 1) * cov3) / t

    difference = float(by_t[0] - by_t[1])
    spread = max(cov2 - cov3, 0.0)
    if readers == "random" and cases == "random":
        denominator = ms_tr + r * spread
        statistic = ms_t / denominator
        hillis = hillis_ddf(denominator, ms_tr, (t - 1) * (r - 1))
        df_den: float | None = hillis
        pvalue = _f_test(statistic, t - 1, hillis)
        half = stats.t.ppf(0.5 + level / 2, hillis) * np.sqrt(2 * denominator / r)
        method = "OR RRRC, Hillis ddf" + (" (infinite: MS(T*R) = 0)" if np.isinf(hillis) else "")
    elif readers == "fixed":
        denominator = var - cov1 + (r - 1) * spread
        statistic = (t - 1) * ms_t / denominator
        df_den = None
        pvalue = float(stats.chi2.sf(statistic, t - 1))
        half = stats.norm.ppf(0.5 + level / 2) * np.sqrt(2 * denominator / r)
        method = "OR FRRC, chi-square"
    else:
        statistic = ms_t / ms_tr
        df_den = float((t - 1) * (r - 1))
        pvalue = float(stats.f.sf(statistic, t - 1, df_den))
        half = stats.t.ppf(0.5 + level / 2, df_den) * np.sqrt(2 * ms_tr / r)
        method = "OR RRFC (ANOVA of reader figures of merit)"
    reader_auc = pd.DataFrame(
        theta.T,
        index=pd.Index(design.readers, name="reader"),
        columns=pd.Index(design.modalities, name="modality"),
    )
    return MRMCResult(
        auc={m: float(v) for m, v in zip(design.modalities, by_t, strict=True)},
        reader_auc=reader_auc,
        difference=difference,
        ci=ConfidenceInterval(difference - half, difference + half, level, method),
        statistic=float(statistic),
        df_num=float(t - 1),
        df_den=None if df_den is None else float(df_den),
        pvalue=pvalue,
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
        method=f"Obuchowski-Rockette ({method}; {covariance} covariance; {endpoint})",
    )


def mrmc_dbm(
    data: Any,
    readers: str = "random",
    cases: str = "random",
    endpoint: str = "auc",
    threshold: float | None = None,
    level: float = 0.95,
) -> DBMResult:
    """Dorfman–Berbaum–Metz analysis of jackknife pseudovalues, Hillis df.

    Parameters are those of :func:`mrmc_or` (the covariance is always the
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
    design = _design(data)
    t, r, _ = design.ratings.shape
    if t < 2 or r < 2:
        raise ValueError("mrmc_dbm needs at least two modalities and two readers")
    rows = design.ratings.reshape(t * r, -1)
    figures = _figures(rows, design.truth, endpoint, threshold)
    c = figures.leave_out.shape[1]
    pseudo = (c * figures.theta[:, None] - (c - 1) * figures.leave_out).reshape(t, r, c)

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

    theta = figures.theta.reshape(t, r)
    by_t = theta.mean(axis=1)
    difference = float(by_t[0] - by_t[1])
    if readers == "random" and cases == "random":
        denominator = ms_tr + max(ms_tc - ms_trc, 0.0)
        df_den = hillis_ddf(denominator, ms_tr, (t - 1) * (r - 1))
        method = "DBM RRRC, Hillis ddf" + (" (infinite: MS(T*R) = 0)" if np.isinf(df_den) else "")
    elif readers == "fixed":
        denominator = ms_tc
        df_den = float((t - 1) * (c - 1))
        method = "DBM FRRC"
    else:
        denominator = ms_tr
        df_den = float((t - 1) * (r - 1))
        method = "DBM RRFC"
    statistic = ms_t / denominator
    pvalue = _f_test(statistic, t - 1, df_den)
    half = stats.t.ppf(0.5 + level / 2, df_den) * np.sqrt(2 * denominator / (r * c))
    return DBMResult(
        auc={m: float(v) for m, v in zip(design.modalities, by_t, strict=True)},
        difference=difference,
        ci=ConfidenceInterval(difference - half, difference + half, level, method),
        statistic=float(statistic),
        df_num=float(t - 1),
        df_den=float(df_den),
        pvalue=pvalue,
        ms_t=float(ms_t),
        ms_r=float(ms_r),
        ms_c=float(ms_c),
        ms_tr=float(ms_tr),
        ms_tc=float(ms_tc),
        ms_rc=float(ms_rc),
        ms_trc=float(ms_trc),
        readers=readers,
        cases=cases,
        method=f"Dorfman-Berbaum-Metz ({method}; {endpoint})",
    )


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
        As for :func:`mrmc_or`.

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
    model = pd.Series(model_ratings)
    if model.index.has_duplicates:
        raise ValueError("model_ratings has duplicate cases")
    cases = pd.Index(frame["case"].unique())
    if not cases.isin(model.index).all():
        lacking = cases[~cases.isin(model.index)]
        raise ValueError(f"model_ratings lacks cases {list(lacking[:5])}")
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
    contrast = np.hstack([np.eye(readers), -np.ones((readers, 1))])
    d = contrast @ figures.theta
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
    theta = figures.theta
    return ModelVsReadersResult(
        model_auc=float(theta[-1]),
        reader_mean_auc=float(theta[:-1].mean()),
        difference=difference,
        ci=ConfidenceInterval(
            difference - half, difference + half, level, "OR single-test, Hillis df"
        ),
        statistic=float(statistic),
        df=float(df),
        pvalue=pvalue,
        reader_auc={rd: float(v) for rd, v in zip(design.readers, theta[:-1], strict=True)},
        method=f"model vs random readers, OR single-test ({covariance} covariance; {endpoint})",
    )


def mrmc_sample_size(
    pilot: MRMCResult,
    effect: float,
    alpha: float = 0.05,
    power: float = 0.8,
    readers: Iterable[int] = range(3, 21),
    max_cases: int = 100_000,
) -> SampleSizeResult:
    """Cases needed per number of readers for a two-modality RRRC OR study.

    Pilot OR components are carried to a study of C cases by scaling the error
    variance and covariances by C_pilot / C (σ²_TR is not scaled, negative estimates
    are set to 0); the power of the Hillis F test is that of the noncentral F with
    λ = R·δ² / (2·[σ²_TR + (C*/C)(Var − Cov1 + (R − 1)(Cov2 − Cov3))]).

    Parameters
    ----------
    pilot : MRMCResult
        Result of :func:`mrmc_or` with random readers and cases.
    effect : float
        Difference of reader-averaged figures of merit to detect (δ).
    alpha, power : float
        Two-sided level and target power.
    readers : iterable of int
        Numbers of readers to plan for (each ≥ 2).
    max_cases : int
        Search limit; a row that cannot reach the power there reports ``cases`` NaN.

    Returns
    -------
    SampleSizeResult
        ``table``: one row per number of readers with the smallest number of cases
        (same kind as the pilot's jackknifed cases) reaching ``power``.

    References
    ----------
    Hillis SL, Obuchowski NA, Berbaum KS. Power estimation for multireader ROC methods:
    an updated and unified approach. Acad Radiol 2011;18:129–142.

    See Also
    --------
    analysis.stats.power.mrmc_cases_for_power : one row of this table, for any analysis
        (RRRC, FRRC, RRFC), method (OR, DBM), typed components, α and power.
    """
    from analysis.stats.power import mrmc_cases_for_power, or_components_from_result

    if not isinstance(pilot, MRMCResult):
        raise ValueError("pilot must be an MRMCResult from mrmc_or")
    if pilot.readers != "random" or pilot.cases != "random":
        raise ValueError("pilot must come from a random-readers, random-cases analysis")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha and power must lie in (0, 1), got {alpha!r}, {power!r}")
    if not np.isfinite(effect) or effect == 0:
        raise ValueError(f"effect must be a non-zero finite difference, got {effect!r}")
    components = or_components_from_result(pilot)
    rows = []
    for count in readers:
        if int(count) < 2:
            raise ValueError(f"readers must be at least 2, got {count}")
        plan = mrmc_cases_for_power(
            components,
            effect=effect,
            readers=int(count),
            power=power,
            alpha=alpha,
            analysis="RRRC",
            method="OR",
            max_cases=max_cases,
        )
        rows.append(
            {
                "readers": int(count),
                "cases": np.nan if plan.cases is None else plan.cases,
                "power": plan.power,
                "df_den": plan.df_den,
            }
        )
    return SampleSizeResult(pd.DataFrame(rows), float(effect), alpha, power)
