"""ROC AUC with DeLong variance (fast Sun & Xu algorithm) and DeLong tests.

Hand-written because no maintained Python library has them: scipy, statsmodels and
scikit-learn give the AUC and the ROC curve (used here for the curve) but neither DeLong's
placements, his variance and covariance, nor his tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from sklearn.metrics import roc_curve

from analysis.stats._checks import (
    as_binary,
    as_float_1d,
    both_classes,
    check_alternative,
    check_level,
)
from analysis.stats.results import AUCResult, ConfidenceInterval, TestResult

__all__ = [
    "auc_kernel",
    "delong_test",
    "delong_test_mean",
    "delong_test_unpaired",
    "placements",
    "roc_auc",
    "roc_curve_points",
]


def _midranks(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Midranks along the last axis (ties share their mean rank), O(n log n)."""
    return np.asarray(stats.rankdata(values, method="average", axis=-1), dtype=np.float64)


def placements(
    positives: NDArray[np.float64], negatives: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """AUCs and DeLong placement values for one or more score rows.

    Parameters
    ----------
    positives : ndarray, shape (k, m)
        Scores of the m positive cases under k scorings.
    negatives : ndarray, shape (k, n)
        Scores of the n negative cases.

    Returns
    -------
    auc : ndarray, shape (k,)
    v10 : ndarray, shape (k, m)
        Structural components of positives: the fraction of negatives each one beats.
    v01 : ndarray, shape (k, n)
        Structural components of negatives: the fraction of positives beating each one.

    Notes
    -----
    Ranks within each class and in the pooled sample give all placements at once
    (Sun & Xu 2014), so the cost is that of sorting.

    References
    ----------
    Sun X, Xu W. Fast implementation of DeLong's algorithm for comparing the areas
    under correlated receiver operating characteristic curves. IEEE Signal Process
    Lett 2014;21:1389–1393.
    """
    m = positives.shape[-1]
    n = negatives.shape[-1]
    pooled = np.concatenate([positives, negatives], axis=-1)
    rank_pooled = _midranks(pooled)
    rank_pos = _midranks(positives)
    rank_neg = _midranks(negatives)
    v10 = (rank_pooled[..., :m] - rank_pos) / n
    v01 = 1.0 - (rank_pooled[..., m:] - rank_neg) / m
    auc = v10.mean(axis=-1)
    return auc, v10, v01


def auc_kernel(
    positives: NDArray[np.float64], negatives: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The Mann–Whitney kernel ψ = 1 / ½ / 0 of every positive × negative pair, per row.

    ``positives`` (k × m) and ``negatives`` (k × n) give a k × m × n array whose mean is
    each row's AUC (ties count one half).
    """
    diff = positives[..., :, None] - negatives[..., None, :]
    return np.asarray((diff > 0) + 0.5 * (diff == 0), dtype=np.float64)


def roc_curve_points(
    y_true: Any, scores: Any
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Empirical ROC: false- and true-positive fractions at every distinct threshold.

    ``sklearn.metrics.roc_curve`` without dropping collinear points; the first point is
    (0, 0) at threshold +∞.
    """
    truth, values = _split(y_true, scores, "scores")
    fpr, tpr, thresholds = roc_curve(truth, values, drop_intermediate=False)
    return (
        np.asarray(fpr, dtype=np.float64),
        np.asarray(tpr, dtype=np.float64),
        np.asarray(thresholds, dtype=np.float64),
    )


def _split(y_true: Any, scores: Any, name: str) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    truth = as_binary(y_true, "y_true")
    values = as_float_1d(scores, name)
    if truth.size != values.size:
        raise ValueError(f"y_true and {name} differ in length: {truth.size} != {values.size}")
    both_classes(truth, "y_true")
    return truth, values


def _delong_cov(v10: NDArray[np.float64], v01: NDArray[np.float64]) -> NDArray[np.float64]:
    """DeLong covariance matrix of k AUCs from their placements (denominators m-1, n-1)."""
    m = v10.shape[-1]
    n = v01.shape[-1]
    s10 = np.atleast_2d(np.cov(v10, ddof=1))
    s01 = np.atleast_2d(np.cov(v01, ddof=1))
    return np.asarray(s10 / m + s01 / n, dtype=np.float64)


def roc_auc(y_true: Any, scores: Any, level: float = 0.95) -> AUCResult:
    """Empirical ROC AUC with its DeLong variance and Wald CI.

    A higher score means more likely positive (no automatic direction flip); ties
    between a positive and a negative count one half.

    Parameters
    ----------
    y_true : array_like of 0/1
        1 marks the positive class (severe).
    scores : array_like of float
        Model scores or reader ratings.
    level : float
        Confidence level; the CI is AUC ± z·√V, clipped to [0, 1].

    Returns
    -------
    AUCResult

    References
    ----------
    DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more
    correlated ROC curves: a nonparametric approach. Biometrics 1988;44:837–845.
    Sun & Xu, IEEE Signal Process Lett 2014;21:1389–1393.
    """
    level = check_level(level)
    truth, values = _split(y_true, scores, "scores")
    aucs, rows10, rows01 = placements(values[None, truth], values[None, ~truth])
    value, v10, v01 = float(aucs[0]), rows10[0], rows01[0]
    m, n = v10.size, v01.size
    var10 = float(np.var(v10, ddof=1)) if m > 1 else 0.0
    var01 = float(np.var(v01, ddof=1)) if n > 1 else 0.0
    variance = var10 / m + var01 / n
    z = stats.norm.ppf(0.5 + level / 2)
    half = z * np.sqrt(variance)
    ci = ConfidenceInterval(max(0.0, value - half), min(1.0, value + half), level, "DeLong")
    return AUCResult(value, variance, ci)


def _pvalue(statistic: float, alternative: str, dist: Any) -> float:
    if alternative == "two-sided":
        return float(2 * dist.sf(abs(statistic)))
    if alternative == "greater":
        return float(dist.sf(statistic))
    return float(dist.cdf(statistic))


def _delong_contrast(
    truth: NDArray[np.bool_],
    matrix: NDArray[np.float64],
    contrast: NDArray[np.float64],
    alternative: str,
    level: float,
    method: str,
) -> TestResult:
    """Z test of ``contrast · AUC`` for scorings (rows of ``matrix``) of the same cases."""
    auc, v10, v01 = placements(matrix[:, truth], matrix[:, ~truth])
    cov = _delong_cov(v10, v01)
    diff = float(contrast @ auc)
    sd = float(np.sqrt(max(float(contrast @ cov @ contrast), 0.0)))
    # No variance: pROC's convention, Z = 0 for no difference (else ±∞).
    statistic = (0.0 if diff == 0.0 else float(np.sign(diff) * np.inf)) if sd == 0.0 else diff / sd
    pvalue = _pvalue(statistic, alternative, stats.norm)
    z = stats.norm.ppf(0.5 + level / 2)
    ci = ConfidenceInterval(diff - z * sd, diff + z * sd, level, "DeLong")
    return TestResult(statistic, pvalue, None, diff, ci, f"{method} ({alternative})")


def delong_test(
    y_true: Any,
    scores_a: Any,
    scores_b: Any,
    alternative: str = "two-sided",
    level: float = 0.95,
) -> TestResult:
    """DeLong's paired Z test of two correlated AUCs on the same cases.

    Hand-written: scipy, statsmodels and scikit-learn have no DeLong test.

    Parameters
    ----------
    y_true : array_like of 0/1
    scores_a, scores_b : array_like of float
        Two scorings of the same cases.
    alternative : {"two-sided", "less", "greater"}
        "greater" tests AUC_a > AUC_b.
    level : float
        Level of the two-sided CI of AUC_a − AUC_b (two-sided whatever ``alternative``).

    Returns
    -------
    TestResult
        ``statistic`` is Z, ``estimate`` is AUC_a − AUC_b, ``df`` is None.

    References
    ----------
    DeLong et al., Biometrics 1988;44:837–845; Sun & Xu 2014.
    """
    level = check_level(level)
    alternative = check_alternative(alternative)
    truth, a = _split(y_true, scores_a, "scores_a")
    _, b = _split(y_true, scores_b, "scores_b")
    return _delong_contrast(
        truth,
        np.vstack([a, b]),
        np.array([1.0, -1.0]),
        alternative,
        level,
        "DeLong's test for two correlated ROC curves",
    )


def delong_test_mean(
    y_true: Any,
    reader_scores: Any,
    model_scores: Any,
    *,
    alternative: str = "two-sided",
    level: float = 0.95,
) -> TestResult:
    """DeLong's paired Z test of the mean AUC of several readers against a model's AUC.

    The readers are fixed (only case sampling varies): the variance of
    mean(AUC_r) − AUC_model is cᵀSc with S the DeLong covariance matrix of the R + 1
    AUCs on the same cases and c = (1/R, …, 1/R, −1). With one reader this is
    :func:`delong_test`. For random readers use :func:`mrmc_model_vs_readers`.

    Parameters
    ----------
    y_true : array_like of 0/1
    reader_scores : array_like, shape (readers, cases)
    model_scores : array_like, shape (cases,)
    alternative : {"two-sided", "less", "greater"}
        "greater" tests mean reader AUC > model AUC.
    level : float
        Level of the two-sided CI of the difference.

    Returns
    -------
    TestResult
        ``estimate`` is mean(AUC_r) − AUC_model, ``statistic`` Z.

    References
    ----------
    DeLong et al., Biometrics 1988;44:837–845 (contrasts of correlated AUCs).
    """
    level = check_level(level)
    alternative = check_alternative(alternative)
    readers = np.asarray(reader_scores, dtype=np.float64)
    if readers.ndim != 2 or readers.shape[0] < 1:
        raise ValueError(f"reader_scores must be readers x cases, got shape {readers.shape}")
    truth, model = _split(y_true, model_scores, "model_scores")
    rows = [_split(truth, row, "reader_scores")[1] for row in readers]
    count = len(rows)
    contrast = np.r_[np.full(count, 1.0 / count), -1.0]
    return _delong_contrast(
        truth,
        np.vstack([*rows, model]),
        contrast,
        alternative,
        level,
        f"DeLong's test of the mean AUC of {count} readers vs one model, same cases",
    )


def delong_test_unpaired(
    y_true_a: Any,
    scores_a: Any,
    y_true_b: Any,
    scores_b: Any,
    alternative: str = "two-sided",
) -> TestResult:
    """DeLong test of two AUCs from independent samples (pROC's convention).

    ``D = (AUC_a − AUC_b) / √(V_a + V_b)`` is referred to Student's t with the
    Welch–Satterthwaite-type degrees of freedom
    ``(V_a + V_b)² / (V_a²/(N_a − 1) + V_b²/(N_b − 1))``, N the sample sizes.

    Parameters
    ----------
    y_true_a, scores_a, y_true_b, scores_b : array_like
        Labels and scores of each independent sample.
    alternative : {"two-sided", "less", "greater"}

    Returns
    -------
    TestResult
        ``statistic`` is D, ``df`` the degrees of freedom, ``estimate`` AUC_a − AUC_b.

    References
    ----------
    DeLong et al., Biometrics 1988; Robin X et al. pROC: an open-source package for R
    and S+ to analyze and compare ROC curves. BMC Bioinformatics 2011;12:77.
    """
    alternative = check_alternative(alternative)
    first = roc_auc(y_true_a, scores_a)
    second = roc_auc(y_true_b, scores_b)
    n_a = np.asarray(y_true_a).size
    n_b = np.asarray(y_true_b).size
    total = first.variance + second.variance
    diff = first.auc - second.auc
    if total == 0.0:
        raise ValueError("both AUC variances are zero; the unpaired test is undefined")
    statistic = diff / np.sqrt(total)
    df = total**2 / (first.variance**2 / (n_a - 1) + second.variance**2 / (n_b - 1))
    pvalue = _pvalue(statistic, alternative, stats.t(df))
    return TestResult(
        float(statistic),
        pvalue,
        float(df),
        float(diff),
        None,
        f"DeLong's test for two ROC curves, independent samples ({alternative})",
    )
