"""Cases needed per number of readers, planned from a pilot OR analysis."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from analysis.stats.power import ORComponents, mrmc_cases_for_power, or_components_from_result
from analysis.stats.results import MRMCResult, SampleSizeResult


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
        Result of :func:`~analysis.stats.mrmc.mrmc_or` with random readers and cases.
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
    _check_plan(pilot, effect, alpha, power)
    components = or_components_from_result(pilot)
    rows = []
    for count in readers:
        if int(count) < 2:
            raise ValueError(f"readers must be at least 2, got {count}")
        rows.append(_plan_row(components, effect, int(count), alpha, power, max_cases))
    return SampleSizeResult(pd.DataFrame(rows), float(effect), alpha, power)


def _check_plan(pilot: MRMCResult, effect: float, alpha: float, power: float) -> None:
    """Refuse a pilot that is not an RRRC OR result, or an effect, α or power out of range."""
    if not isinstance(pilot, MRMCResult):
        raise ValueError("pilot must be an MRMCResult from mrmc_or")
    if pilot.readers != "random" or pilot.cases != "random":
        raise ValueError("pilot must come from a random-readers, random-cases analysis")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha and power must lie in (0, 1), got {alpha!r}, {power!r}")
    if not np.isfinite(effect) or effect == 0:
        raise ValueError(f"effect must be a non-zero finite difference, got {effect!r}")


def _plan_row(
    components: ORComponents,
    effect: float,
    readers: int,
    alpha: float,
    power: float,
    max_cases: int,
) -> dict[str, float]:
    """One row of the table: the fewest cases for ``readers`` readers, its power and ddf."""
    plan = mrmc_cases_for_power(
        components,
        effect=effect,
        readers=readers,
        power=power,
        alpha=alpha,
        analysis="RRRC",
        method="OR",
        max_cases=max_cases,
    )
    return {
        "readers": readers,
        "cases": np.nan if plan.cases is None else plan.cases,
        "power": plan.power,
        "df_den": plan.df_den,
    }
