"""Inter-rater agreement: Fleiss' kappa for many raters, Cohen's kappa for two.

The estimates are statsmodels' (``inter_rater.fleiss_kappa``, ``cohens_kappa``), the
bootstrap is ``scipy.stats.bootstrap``. Hand-written is what neither library returns:
Fleiss' SE under H0 (Fleiss, Nee & Landis 1979, as in R irr; statsmodels gives no SE for
Fleiss' kappa) and the vectorised kappa the bootstrap scores its resamples with.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from statsmodels.stats import inter_rater

from analysis.stats._checks import check_level
from analysis.stats.results import ConfidenceInterval, KappaResult

__all__ = ["cohen_kappa", "fleiss_kappa"]


def _label_array(values: Any, name: str) -> NDArray[Any]:
    array = np.asarray(values)
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN; every rater must rate every subject")
    if array.dtype.kind == "O":
        flat = array.ravel()
        if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in flat):
            raise ValueError(f"{name} contains missing labels")
    return array


def _fleiss_from_counts(counts: NDArray[np.float64], raters: int) -> NDArray[np.float64]:
    """Fleiss' kappa of count tables along the last two axes (..., subjects, categories).

    Hand-written beside statsmodels' ``fleiss_kappa`` (which gives the reported estimate)
    because that one takes a single table: this form scores thousands of bootstrap
    resamples in one array operation. The tests hold the two to the same value.
    """
    subjects = counts.shape[-2]
    p_j = counts.sum(axis=-2) / (subjects * raters)
    p_i = (np.sum(counts**2, axis=-1) - raters) / (raters * (raters - 1))
    p_bar = p_i.mean(axis=-1)
    p_e = np.sum(p_j**2, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((p_bar - p_e) / (1.0 - p_e), dtype=np.float64)


def _subject_bootstrap(
    counts: NDArray[np.float64], raters: int, level: float, n_resamples: int, seed: int
) -> tuple[float, ConfidenceInterval]:
    """SE and percentile CI of Fleiss' kappa by ``scipy.stats.bootstrap`` over subjects.

    A subject is a row of category counts; its columns go to scipy as paired samples
    (``paired=True``), so a resample takes whole subjects. A resample whose ratings all
    fall in one category has no kappa (0/0): scipy would make the whole interval NaN, so
    then the interval is the same percentile interval over the resamples that have one,
    and the method says how many were left out.
    """

    def kappa_of(*columns: NDArray[np.float64], axis: int = -1) -> NDArray[np.float64]:
        table = np.stack([np.moveaxis(column, axis, -1) for column in columns], axis=-1)
        return _fleiss_from_counts(table, raters)

    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        # Resamples without a kappa are handled below; scipy's warning says no more.
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        result = stats.bootstrap(
            tuple(counts.T),
            kappa_of,
            paired=True,
            vectorized=True,
            n_resamples=n_resamples,
            confidence_level=level,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    boot = result.bootstrap_distribution
    finite = boot[np.isfinite(boot)]
    method = "percentile bootstrap over subjects (scipy.stats.bootstrap)"
    if finite.size == boot.size:
        interval = result.confidence_interval
        low, high = float(interval.low), float(interval.high)
        return float(result.standard_error), ConfidenceInterval(low, high, level, method)
    if finite.size < 2:
        return float("nan"), ConfidenceInterval(float("nan"), float("nan"), level, method)
    alpha = 1.0 - level
    low, high = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    left_out = f"{boot.size - finite.size} of {boot.size} resamples without a kappa left out"
    return float(np.std(finite, ddof=1)), ConfidenceInterval(
        float(low), float(high), level, f"{method}; {left_out}"
    )


def fleiss_kappa(
    ratings: Any, level: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> KappaResult:
    """Fleiss' kappa for a fixed number of raters per subject.

    Parameters
    ----------
    ratings : array_like, shape (subjects, raters)
        Raw category labels (not counts).
    level : float
        Level of the bootstrap CI.
    n_resamples, seed : int
        Subject bootstrap behind ``se`` and ``ci`` (percentile interval).

    Returns
    -------
    KappaResult
        ``statistic``/``pvalue`` test kappa = 0 (two-sided) with the standard error
        under H0 (``se_h0``, Fleiss, Nee & Landis 1979, as in R irr); ``se`` and ``ci``
        come from the bootstrap over subjects, never from the H0 SE.

    References
    ----------
    Fleiss JL. Measuring nominal scale agreement among many raters. Psychol Bull
    1971;76:378–382. Fleiss JL, Nee JCM, Landis JR. Large sample variance of kappa in
    the case of different sets of raters. Psychol Bull 1979;86:974–977.
    """
    level = check_level(level)
    labels = _label_array(ratings, "ratings")
    if labels.ndim != 2:
        raise ValueError(f"ratings must be subjects x raters, got shape {labels.shape}")
    subjects, raters = labels.shape
    if subjects < 2 or raters < 2:
        raise ValueError(f"ratings needs at least 2 subjects and 2 raters, got {labels.shape}")
    if n_resamples < 2:
        raise ValueError(f"n_resamples must be at least 2, got {n_resamples}")
    counts, _ = inter_rater.aggregate_raters(labels)
    counts = np.asarray(counts, dtype=np.float64)
    kappa = float(inter_rater.fleiss_kappa(counts, method="fleiss"))

    p_j = counts.sum(axis=0) / (subjects * raters)
    pq = p_j * (1 - p_j)
    spq = pq.sum()
    if spq == 0:
        raise ValueError("all ratings fall in one category; kappa is undefined")
    var_h0 = (
        2.0 / (spq**2 * subjects * raters * (raters - 1)) * (spq**2 - np.sum(pq * (1 - 2 * p_j)))
    )
    se_h0 = float(np.sqrt(var_h0))
    statistic = kappa / se_h0
    pvalue = float(2 * stats.norm.sf(abs(statistic)))

    se, ci = _subject_bootstrap(counts, raters, level, n_resamples, seed)
    return KappaResult(
        kappa,
        se,
        ci,
        float(statistic),
        pvalue,
        se_h0,
        "Fleiss' kappa; z test with the H0 SE (Fleiss, Nee & Landis 1979)",
    )


def cohen_kappa(
    a: Any,
    b: Any,
    weights: str | None = None,
    categories: Sequence[Any] | None = None,
    level: float = 0.95,
) -> KappaResult:
    """Cohen's kappa of two raters, unweighted or with linear/quadratic weights.

    Parameters
    ----------
    a, b : array_like
        Labels of the two raters per subject.
    weights : {None, "linear", "quadratic"}
        Disagreement weights |i − j| or (i − j)² over category positions.
    categories : sequence, optional
        Ordered categories (equally spaced). By default the labels either rater used,
        sorted (R irr's ``kappa2`` convention).
    level : float
        Level of the CI kappa ± z·se.

    Returns
    -------
    KappaResult
        ``se`` is the asymptotic SE (Fleiss, Cohen & Everitt 1969) behind the CI;
        ``statistic``/``pvalue`` test kappa = 0 (two-sided) with the H0 SE.

    References
    ----------
    Cohen J. A coefficient of agreement for nominal scales. Educ Psychol Meas
    1960;20:37–46. Cohen J. Weighted kappa. Psychol Bull 1968;70:213–220.
    Fleiss JL, Cohen J, Everitt BS. Large sample standard errors of kappa and weighted
    kappa. Psychol Bull 1969;72:323–327.
    """
    level = check_level(level)
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    first = _label_array(a, "a")
    second = _label_array(b, "b")
    if first.ndim != 1 or second.ndim != 1:
        raise ValueError("a and b must be one-dimensional label arrays")
    if first.size != second.size:
        raise ValueError(f"a and b differ in length: {first.size} != {second.size}")
    if categories is None:
        levels = sorted(set(first.tolist()) | set(second.tolist()))
    else:
        levels = list(categories)
        if len(set(levels)) != len(levels):
            raise ValueError("categories contains duplicates")
        unknown = (set(first.tolist()) | set(second.tolist())) - set(levels)
        if unknown:
            raise ValueError(f"labels not in categories: {sorted(map(str, unknown))}")
    if len(levels) < 2:
        raise ValueError("kappa needs at least two categories")
    index = {label: i for i, label in enumerate(levels)}
    k = len(levels)
    table = np.zeros((k, k))
    np.add.at(table, ([index[v] for v in first.tolist()], [index[v] for v in second.tolist()]), 1)
    result = inter_rater.cohens_kappa(table, wt=weights, return_results=True)
    kappa = float(result.kappa)
    se = float(result.std_kappa)
    se_h0 = float(result.std_kappa0)
    z = stats.norm.ppf(0.5 + level / 2)
    statistic = kappa / se_h0 if se_h0 > 0 else float("nan")
    pvalue = float(2 * stats.norm.sf(abs(statistic))) if se_h0 > 0 else float("nan")
    name = "unweighted" if weights is None else f"{weights} weights"
    return KappaResult(
        kappa,
        se,
        ConfidenceInterval(
            kappa - z * se, kappa + z * se, level, "asymptotic (Fleiss, Cohen & Everitt 1969)"
        ),
        float(statistic),
        pvalue,
        se_h0,
        f"Cohen's kappa, {name}",
    )
