"""Blinding indices: Bang's per-arm index and James' overall index.

The indices and their analytic SEs are hand-written because no maintained Python library
has them (the reference is R's BI package); Bang's bootstrap CI is ``scipy.stats.bootstrap``
of each arm's answers. The tests hold them to Bang et al. 2004 and to Monte Carlo
resampling written independently in the test.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from analysis.stats._checks import check_level
from analysis.stats.results import BlindingIndexResult, ConfidenceInterval

__all__ = ["bang_blinding_index", "james_blinding_index"]


def _guess_table(table: Any) -> NDArray[np.float64]:
    counts = np.asarray(table, dtype=np.float64)
    if counts.ndim != 2:
        raise ValueError(f"table must be 2-D (arms x guesses), got shape {counts.shape}")
    arms, guesses = counts.shape
    if arms < 2 or guesses != arms + 1:
        raise ValueError(
            "table must be arms x (arms + 1): one column per guessed arm, then "
            f"'don't know'; got shape {counts.shape}"
        )
    if not np.all(np.isfinite(counts)):
        raise ValueError("table contains NaN or infinite counts")
    if np.any(counts < 0):
        raise ValueError("table contains negative counts")
    if np.any(counts.sum(axis=1) == 0):
        raise ValueError("an arm has no answers (a row of zeros)")
    return counts


def _arm_bootstrap(
    row: NDArray[np.float64], arm: int, level: float, n_resamples: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile CI of one arm's Bang index by ``scipy.stats.bootstrap`` of its answers.

    The sample is the arm's answers, one per participant (the column each guessed, "don't
    know" included), so a resample of n answers with replacement is the multinomial
    resample of the row. Percentile, not BCa: the index takes few values, and an arm that
    answered alike (all "don't know", say) has a degenerate jackknife, which makes BCa NaN.
    """
    k = row.size - 1
    answers = np.repeat(np.arange(k + 1), np.rint(row).astype(np.intp))

    def index_of(sample: NDArray[np.intp], axis: int = -1) -> NDArray[np.float64]:
        correct = np.mean(sample == arm, axis=axis)
        wrong = np.mean((sample != arm) & (sample < k), axis=axis)
        return np.asarray(correct - wrong / (k - 1), dtype=np.float64)

    if np.unique(answers).size == 1:  # every resample is the sample itself
        value = float(index_of(answers))
        return value, value
    interval = stats.bootstrap(
        (answers,),
        index_of,
        vectorized=True,
        n_resamples=n_resamples,
        confidence_level=level,
        method="percentile",
        rng=rng,
    ).confidence_interval
    return float(interval.low), float(interval.high)


def bang_blinding_index(
    table: Any, level: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> tuple[BlindingIndexResult, ...]:
    """Bang's blinding index per arm, with analytic and bootstrap CIs.

    For arm i with n_i answers, the index is ``p_correct − p_wrong/(k − 1)`` where the
    proportions are over all n_i answers ("don't know" stays in the denominator); with
    two arms this is Bang's ``(2·correct/(correct+wrong) − 1)·(correct+wrong)/n_i``.
    0 means random guessing, 1 complete unblinding, negative values opposite guessing.

    Parameters
    ----------
    table : array_like, shape (k, k + 1)
        Counts: row i = true arm i; columns = guessed arm 1 … k, then "don't know".
        (The transpose of R BI's ``x``.)
    level : float
        Confidence level.
    n_resamples, seed : int
        Bootstrap of each arm's answers for ``bootstrap_ci`` (percentile; see
        :func:`_arm_bootstrap`).

    Returns
    -------
    tuple of BlindingIndexResult
        One per arm: two-sided Wald CI in ``ci``; Bang's one-sided limits at the same
        level in ``lower_one_sided`` (H1: index > 0) and ``upper_one_sided``.

    References
    ----------
    Bang H, Ni L, Davis CE. Assessment of blinding in clinical trials. Control Clin
    Trials 2004;25:143–156.
    """
    level = check_level(level)
    counts = _guess_table(table)
    k = counts.shape[0]
    wrong_weight = 1.0 / (k - 1)
    z2 = stats.norm.ppf(0.5 + level / 2)
    z1 = stats.norm.ppf(level)
    rng = np.random.default_rng(seed)
    results = []
    for arm in range(k):
        row = counts[arm]
        n = row.sum()
        correct = row[arm] / n
        wrong = (row[:k].sum() - row[arm]) / n
        estimate = correct - wrong_weight * wrong
        variance = (
            correct * (1 - correct)
            + wrong_weight**2 * wrong * (1 - wrong)
            + 2 * wrong_weight * correct * wrong
        ) / n
        se = float(np.sqrt(variance))
        low, high = _arm_bootstrap(row, arm, level, n_resamples, rng)
        results.append(
            BlindingIndexResult(
                estimate=float(estimate),
                se=se,
                ci=ConfidenceInterval(
                    float(estimate - z2 * se), float(estimate + z2 * se), level, "Wald (Bang 2004)"
                ),
                lower_one_sided=float(estimate - z1 * se),
                upper_one_sided=float(estimate + z1 * se),
                bootstrap_ci=ConfidenceInterval(
                    low, high, level, "percentile bootstrap of the arm's answers (scipy)"
                ),
                arm=str(arm + 1),
                method="Bang's blinding index",
            )
        )
    return tuple(results)


def james_blinding_index(table: Any, level: float = 0.95) -> BlindingIndexResult:
    """James' blinding index over all arms, with its asymptotic SE and two-sided CI.

    Weights 0 for a correct guess, ½ for a wrong one, 1 for "don't know"; 1 means
    complete blinding, 0 complete unblinding, 0.5 random guessing.

    Parameters
    ----------
    table : array_like, shape (k, k + 1)
        As for :func:`bang_blinding_index`.
    level : float

    Returns
    -------
    BlindingIndexResult

    References
    ----------
    James KE, Bloch DA, Lee KK, Kraemer HC, Fuller RK. An index for assessing blindness
    in a multi-centre clinical trial: disulfiram for alcohol cessation. Stat Med
    1996;15:1421–1434.
    """
    level = check_level(level)
    counts = _guess_table(table)
    k = counts.shape[0]
    z = stats.norm.ppf(0.5 + level / 2)
    method = "James' blinding index"
    guessed = counts[:, :k]
    if not guessed.any():
        # Only "don't know" answers: complete blinding by definition (James 1996, p. 1425).
        return BlindingIndexResult(
            1.0, 0.0, ConfidenceInterval(1.0, 1.0, level, "Wald"), method=method
        )
    total = counts.sum()
    # p[g, a]: proportion guessing arm g among those truly in arm a (guess rows, arm columns).
    p = guessed.T / total
    p_dk = counts[:, k].sum() / total
    weights = np.full((k, k), 0.5)
    np.fill_diagonal(weights, 0.0)
    guess_margin = p.sum(axis=1)  # over arms, for each guess
    arm_margin = counts.sum(axis=1) / total - counts[:, k] / total  # arm totals less "don't know"
    expected = np.outer(guess_margin, arm_margin)
    p_do = np.sum(weights * p) / (1 - p_dk)
    p_de = np.sum(weights * expected) / (1 - p_dk) ** 2
    kappa_d = (p_do - p_de) / p_de
    estimate = (1 + p_dk + (1 - p_dk) * kappa_d) / 2

    term_den = 4 * np.sum(weights * expected) ** 2
    term_num = 0.0
    for g in range(k):
        for a in range(k):
            extra = np.sum(weights[:, a] * guess_margin) + np.sum(weights[g, :] * arm_margin)
            term_num += (
                p[g, a]
                * (1 - p_dk) ** 2
                * ((1 - p_dk) * weights[g, a] - (1 + kappa_d) * extra) ** 2
            )
    v1 = term_num / term_den
    v2 = p_dk * (1 - p_dk) - (1 - p_dk) * (1 + kappa_d) * (p_dk + (1 - p_dk) * (1 + kappa_d) / 4)
    se = float(np.sqrt((v1 + v2) / total))
    return BlindingIndexResult(
        float(estimate),
        se,
        ConfidenceInterval(
            float(estimate - z * se), float(estimate + z * se), level, "Wald (James 1996)"
        ),
        method=method,
    )
