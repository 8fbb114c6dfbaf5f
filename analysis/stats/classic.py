"""Classic two-sample, paired and contingency tests (thin wrappers on scipy/statsmodels).

Where R and scipy differ in a default, R's convention is followed and named in
``method`` (exact distributions for small samples without ties, continuity correction
for the normal approximation).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special, stats
from statsmodels.stats.multitest import multipletests

from analysis.stats._checks import as_float_1d, check_alternative
from analysis.stats.results import ConfidenceInterval, TestResult

__all__ = [
    "benjamini_hochberg",
    "chi_square",
    "contingency_test",
    "fisher_exact",
    "kruskal_wallis",
    "mann_whitney",
    "paired_t",
    "welch_t",
    "wilcoxon_signed_rank",
]

# R's wilcox.test uses the exact null distribution below 50 observations.
_EXACT_LIMIT = 50


def wilcoxon_signed_rank(differences: Any, alternative: str = "two-sided") -> TestResult:
    """Wilcoxon signed-rank test of paired differences against zero.

    Exact null distribution for fewer than 50 non-zero differences without ties (R's
    rule); otherwise the normal approximation with continuity correction. Zero
    differences are dropped, as R does.

    Parameters
    ----------
    differences : array_like of float
    alternative : {"two-sided", "less", "greater"}

    Returns
    -------
    TestResult
        ``statistic`` is R's V, the sum of the ranks of the positive differences;
        ``estimate`` is the median difference.

    References
    ----------
    Wilcoxon F. Individual comparisons by ranking methods. Biometrics Bulletin
    1945;1:80–83. Hollander M, Wolfe DA. Nonparametric Statistical Methods, 1999.
    """
    alternative = check_alternative(alternative)
    d = as_float_1d(differences, "differences")
    nonzero = d[d != 0]
    if nonzero.size == 0:
        raise ValueError("differences are all zero; the signed-rank test is undefined")
    ranks = stats.rankdata(np.abs(nonzero))
    v = float(ranks[nonzero > 0].sum())
    has_ties = np.unique(np.abs(nonzero)).size < nonzero.size
    exact = nonzero.size < _EXACT_LIMIT and not has_ties and nonzero.size == d.size
    if exact:
        result = stats.wilcoxon(nonzero, alternative=alternative, method="exact")
        method = "Wilcoxon signed rank exact test"
    else:
        result = stats.wilcoxon(
            d, alternative=alternative, method="approx", correction=True, zero_method="wilcox"
        )
        method = "Wilcoxon signed rank test with continuity correction"
    return TestResult(v, float(result.pvalue), None, float(np.median(d)), None, method)


def welch_t(a: Any, b: Any, alternative: str = "two-sided", level: float = 0.95) -> TestResult:
    """Welch's two-sample t test (unequal variances), as R's ``t.test`` default.

    Returns
    -------
    TestResult
        ``estimate`` is mean(a) − mean(b); ``ci`` follows ``alternative`` as in R.

    References
    ----------
    Welch BL. The generalization of "Student's" problem when several different
    population variances are involved. Biometrika 1947;34:28–35.
    """
    alternative = check_alternative(alternative)
    x = as_float_1d(a, "a")
    y = as_float_1d(b, "b")
    if x.size < 2 or y.size < 2:
        raise ValueError("welch_t needs at least two observations in each sample")
    result = stats.ttest_ind(x, y, equal_var=False, alternative=alternative)
    ci = result.confidence_interval(confidence_level=level)
    return TestResult(
        float(result.statistic),
        float(result.pvalue),
        float(result.df),
        float(x.mean() - y.mean()),
        ConfidenceInterval(float(ci.low), float(ci.high), level, "Welch t"),
        "Welch Two Sample t-test",
    )


def paired_t(a: Any, b: Any, alternative: str = "two-sided", level: float = 0.95) -> TestResult:
    """Paired t test of a − b.

    References
    ----------
    Student. The probable error of a mean. Biometrika 1908;6:1–25.
    """
    alternative = check_alternative(alternative)
    x = as_float_1d(a, "a")
    y = as_float_1d(b, "b")
    if x.size != y.size:
        raise ValueError(f"a and b differ in length: {x.size} != {y.size}")
    if x.size < 2:
        raise ValueError("paired_t needs at least two pairs")
    result = stats.ttest_rel(x, y, alternative=alternative)
    ci = result.confidence_interval(confidence_level=level)
    return TestResult(
        float(result.statistic),
        float(result.pvalue),
        float(result.df),
        float(np.mean(x - y)),
        ConfidenceInterval(float(ci.low), float(ci.high), level, "paired t"),
        "Paired t-test",
    )


def mann_whitney(a: Any, b: Any, alternative: str = "two-sided") -> TestResult:
    """Wilcoxon–Mann–Whitney rank-sum test.

    Exact when both samples have fewer than 50 observations and there are no ties
    (R's rule); otherwise normal approximation with continuity correction.

    Returns
    -------
    TestResult
        ``statistic`` is R's W, the Mann–Whitney U of ``a``; ``estimate`` is
        U / (n_a n_b), the probability that a random ``a`` exceeds a random ``b``
        (ties ½).

    References
    ----------
    Mann HB, Whitney DR. On a test of whether one of two random variables is
    stochastically larger than the other. Ann Math Stat 1947;18:50–60.
    """
    alternative = check_alternative(alternative)
    x = as_float_1d(a, "a")
    y = as_float_1d(b, "b")
    pooled = np.concatenate([x, y])
    has_ties = np.unique(pooled).size < pooled.size
    exact = x.size < _EXACT_LIMIT and y.size < _EXACT_LIMIT and not has_ties
    result = stats.mannwhitneyu(
        x,
        y,
        alternative=alternative,
        method="exact" if exact else "asymptotic",
        use_continuity=True,
    )
    method = (
        "Wilcoxon rank sum exact test"
        if exact
        else "Wilcoxon rank sum test with continuity correction"
    )
    u = float(result.statistic)
    return TestResult(u, float(result.pvalue), None, u / (x.size * y.size), None, method)


def chi_square(table: Any, correction: bool = False) -> TestResult:
    """Pearson's χ² test of independence of an r × c contingency table.

    Parameters
    ----------
    table : array_like, shape (r, c)
        Non-negative counts.
    correction : bool
        Yates' continuity correction (applied only to 2 × 2 tables, as in R).

    References
    ----------
    Pearson K. On the criterion that a given system of deviations ... Phil Mag
    1900;50:157–175. Agresti A. Categorical Data Analysis, 2002.
    """
    counts = np.asarray(table, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] < 2 or counts.shape[1] < 2:
        raise ValueError(f"table must be a 2-D array of at least 2 x 2, got shape {counts.shape}")
    if not np.all(np.isfinite(counts)):
        raise ValueError("table contains NaN or infinite counts")
    if np.any(counts < 0):
        raise ValueError("table contains negative counts")
    if np.any(counts.sum(axis=0) == 0) or np.any(counts.sum(axis=1) == 0):
        raise ValueError("table has a row or column of zeros")
    result = stats.chi2_contingency(counts, correction=correction)
    yates = correction and counts.shape == (2, 2)
    method = "Pearson's Chi-squared test" + (" with Yates' continuity correction" if yates else "")
    return TestResult(
        float(result.statistic), float(result.pvalue), float(result.dof), None, None, method
    )


def _check_counts(table: Any) -> NDArray[np.float64]:
    counts = np.asarray(table, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] < 2 or counts.shape[1] < 2:
        raise ValueError(f"table must be a 2-D array of at least 2 x 2, got shape {counts.shape}")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0) or np.any(counts != np.round(counts)):
        raise ValueError("table must hold non-negative whole counts")
    if np.any(counts.sum(axis=0) == 0) or np.any(counts.sum(axis=1) == 0):
        raise ValueError("table has a row or column of zeros")
    return counts


def fisher_exact(table: Any, n_resamples: int = 9999, seed: int = 0) -> TestResult:
    """Fisher's exact test of independence (two-sided).

    A 2 × 2 table: scipy's exact conditional test (``estimate`` is the sample odds ratio).
    A larger r × c table: the Fisher–Freeman–Halton test (R's ``fisher.test``), whose p is
    the probability, given the margins, of a table no more probable than the observed one;
    scipy has no r × c version, so the p-value is estimated by Monte Carlo
    (``scipy.stats.permutation_test``: the column labels of the cases shuffled against
    their row labels, which keeps both margins; p = (b + 1)/(B + 1), as R's
    ``simulate.p.value``). The statistic is −log of the table's probability up to a
    constant (Σ log n_ij!), larger = less probable.

    References
    ----------
    Fisher RA. Statistical Methods for Research Workers, 1925. Freeman GH, Halton JH.
    Note on an exact treatment of contingency, goodness of fit and other problems of
    significance. Biometrika 1951;38:141–149.
    """
    counts = _check_counts(table)
    if counts.shape == (2, 2):
        result = stats.fisher_exact(counts.astype(int), alternative="two-sided")
        odds = float(result.statistic)
        return TestResult(
            odds, float(result.pvalue), None, odds, None, "Fisher's exact test (2 x 2)"
        )
    r, c = counts.shape
    cells = counts.astype(int).ravel()
    rows = np.repeat(np.repeat(np.arange(r), c), cells)
    cols = np.repeat(np.tile(np.arange(c), r), cells)

    def log_improbability(columns: NDArray[np.int64], axis: int = -1) -> NDArray[np.float64]:
        columns = np.moveaxis(np.asarray(columns), axis, -1)
        batch = columns.reshape(-1, columns.shape[-1])
        index = rows * c + batch + (np.arange(batch.shape[0]) * r * c)[:, None]
        tables = np.bincount(index.ravel(), minlength=batch.shape[0] * r * c).reshape(
            batch.shape[0], r * c
        )
        value = special.gammaln(tables + 1.0).sum(axis=1)
        return value.reshape(columns.shape[:-1])

    result = stats.permutation_test(
        (cols,),
        log_improbability,
        permutation_type="pairings",
        vectorized=True,
        n_resamples=n_resamples,
        alternative="greater",
        rng=np.random.default_rng(seed),
        batch=500,
    )
    method = (
        f"Fisher-Freeman-Halton exact test ({r} x {c}), Monte Carlo p-value from "
        f"{n_resamples} tables with the observed margins"
    )
    return TestResult(float(result.statistic), float(result.pvalue), None, None, None, method)


def contingency_test(table: Any, n_resamples: int = 9999, seed: int = 0) -> TestResult:
    """χ² or Fisher, as a clinical paper chooses: Pearson's χ² (no continuity correction)
    when every expected count is at least 5, else Fisher's exact test (2 × 2) or the
    Fisher–Freeman–Halton test (larger tables; see :func:`fisher_exact`)."""
    counts = _check_counts(table)
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / counts.sum()
    if np.all(expected >= 5):
        return chi_square(counts, correction=False)
    return fisher_exact(counts, n_resamples=n_resamples, seed=seed)


def kruskal_wallis(*samples: Any) -> TestResult:
    """Kruskal–Wallis rank-sum test of k independent samples (``scipy.stats.kruskal``).

    H corrected for ties, χ² reference with k − 1 df, as R's ``kruskal.test``. Missing
    values (NaN) are dropped; a sample left empty is an error.

    References
    ----------
    Kruskal WH, Wallis WA. Use of ranks in one-criterion variance analysis. J Am Stat
    Assoc 1952;47:583–621.
    """
    groups = [np.asarray(sample, dtype=np.float64).ravel() for sample in samples]
    groups = [g[~np.isnan(g)] for g in groups]
    if len(groups) < 2 or any(g.size == 0 for g in groups):
        raise ValueError("Kruskal-Wallis needs at least two non-empty samples")
    pooled = np.concatenate(groups)
    if np.all(pooled == pooled[0]):
        raise ValueError("all values are identical; the Kruskal-Wallis test is undefined")
    result = stats.kruskal(*groups)
    return TestResult(
        float(result.statistic),
        float(result.pvalue),
        float(len(groups) - 1),
        None,
        None,
        "Kruskal-Wallis rank sum test",
    )


def benjamini_hochberg(
    pvalues: Any, q: float = 0.05
) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Benjamini–Hochberg step-up FDR control.

    Returns
    -------
    rejected : ndarray of bool
    adjusted : ndarray of float
        BH-adjusted p-values (R's ``p.adjust(method = "BH")``).

    References
    ----------
    Benjamini Y, Hochberg Y. Controlling the false discovery rate. J R Stat Soc B
    1995;57:289–300.
    """
    p = as_float_1d(pvalues, "pvalues")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("pvalues must lie in [0, 1]")
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must lie in (0, 1), got {q!r}")
    rejected, adjusted, _, _ = multipletests(p, alpha=q, method="fdr_bh")
    return np.asarray(rejected, dtype=bool), np.asarray(adjusted, dtype=np.float64)
