"""Power and sample size of a two-modality MRMC study (OR / DBM, Hillis df; RRRC, FRRC, RRFC).

The method of Hillis, Obuchowski & Berbaum (2011) and Hillis & Schartz (2018), as RJafroc's
``SsPowerGivenJK`` / ``SsSampleSizeKGivenJ`` implement it: the F test of the planned study
has, approximately, a noncentral F distribution with noncentrality
``λ = J·δ² / (2·D)`` and Hillis' denominator df, where ``D`` is the expected denominator
of the F statistic for ``J`` readers and ``K`` cases. In DBM terms (pseudovalue variance
components σ²_TR, σ²_TC, σ²_ε; negative σ²_TR and σ²_TC set to 0)::

    RRRC  D = σ²_TR + (σ²_ε + J·σ²_TC)/K   ddf = D² (J − 1) / (σ²_TR + σ²_ε/K)²
    FRRC  D = (σ²_ε + J·σ²_TC)/K           OR: χ²₁ (ddf = ∞); DBM: ddf = K − 1
    RRFC  D = σ²_TR + σ²_ε/K               ddf = J − 1

OR components of a pilot of K* cases map onto these exactly (Hillis 2011, Table 1):
σ²_ε = K*(Var − Cov1 − max(Cov2 − Cov3, 0)), σ²_TC = K*·max(Cov2 − Cov3, 0), σ²_TR as is,
so that ``(σ²_ε + J σ²_TC)/K = (K*/K)(Var − Cov1 + (J − 1) max(Cov2 − Cov3, 0))``.
FRRC with OR uses the χ² test that :func:`analysis.stats.mrmc.mrmc_or` reports for fixed
readers (RJafroc ≥ 2.0); FRRC with DBM uses F(1, K − 1), as :func:`mrmc_dbm` does.

Hand-written because no maintained Python library has MRMC power (the references are
RJafroc, MRMCsamplesize and the Iowa "MRMC sample size" program). The tests hold it to
RJafroc's published Van Dyke figures and to a Roe–Metz simulation.

References
----------
Hillis SL, Obuchowski NA, Berbaum KS. Power estimation for multireader ROC methods: an
updated and unified approach. Acad Radiol 2011;18:129–142. Hillis SL, Schartz KM.
Multireader sample size program for diagnostic studies: demonstration and methodology.
J Med Imaging 2018;5:045503.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from analysis.stats.hillis import hillis_ddf
from analysis.stats.results import MRMCResult

__all__ = [
    "ANALYSES",
    "METHODS",
    "DBMComponents",
    "ORComponents",
    "PowerResult",
    "mrmc_cases_for_power",
    "mrmc_power",
    "or_components_from_result",
]

ANALYSES = ("RRRC", "FRRC", "RRFC")
METHODS = ("OR", "DBM")


def _finite(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


@dataclass(frozen=True)
class ORComponents:
    """Obuchowski–Rockette variance components of a pilot study of ``n_cases`` cases.

    ``var_r`` is not needed for power (only shown); the covariances are those of the
    reader figures of merit over case samples of the pilot's size.
    """

    var_tr: float
    var_error: float
    cov1: float
    cov2: float
    cov3: float
    n_cases: int
    var_r: float = float("nan")

    def __post_init__(self) -> None:
        for name in ("var_tr", "var_error", "cov1", "cov2", "cov3"):
            object.__setattr__(self, name, _finite(name, getattr(self, name)))
        object.__setattr__(self, "var_r", float(self.var_r))
        if int(self.n_cases) != self.n_cases or self.n_cases < 2:
            raise ValueError(
                f"n_cases (pilot cases K*) must be an integer ≥ 2, got {self.n_cases!r}"
            )
        object.__setattr__(self, "n_cases", int(self.n_cases))
        if self.var_error <= 0:
            raise ValueError(f"var_error must be positive, got {self.var_error!r}")
        if self.var_error - self.cov1 - max(self.cov2 - self.cov3, 0.0) <= 0:
            raise ValueError("Var − Cov1 − max(Cov2 − Cov3, 0) must be positive")

    def to_dbm(self) -> DBMComponents:
        """The DBM (pseudovalue) components these OR components imply (Hillis 2011)."""
        spread = max(self.cov2 - self.cov3, 0.0)
        return DBMComponents(
            var_tr=self.var_tr,
            var_tc=self.n_cases * spread,
            var_error=self.n_cases * (self.var_error - self.cov1 - spread),
            var_r=self.var_r,
        )


@dataclass(frozen=True)
class DBMComponents:
    """DBM variance components of jackknife pseudovalues (per case: no pilot size needed)."""

    var_tr: float
    var_tc: float
    var_error: float
    var_r: float = float("nan")

    def __post_init__(self) -> None:
        for name in ("var_tr", "var_tc", "var_error"):
            object.__setattr__(self, name, _finite(name, getattr(self, name)))
        object.__setattr__(self, "var_r", float(self.var_r))
        if self.var_error <= 0:
            raise ValueError(
                f"var_error (σ²_ε of the pseudovalues) must be positive, got {self.var_error!r}"
            )


def or_components_from_result(result: MRMCResult) -> ORComponents:
    """The OR components of a two-modality :func:`mrmc_or` result (the pilot study)."""
    if not isinstance(result, MRMCResult):
        raise ValueError("result must be an MRMCResult from mrmc_or")
    if len(result.modalities) != 2:
        raise ValueError("the pilot must compare exactly two modalities")
    return ORComponents(
        var_tr=result.var_tr,
        var_error=result.var_error,
        cov1=result.cov1,
        cov2=result.cov2,
        cov3=result.cov3,
        n_cases=result.n_cases,
        var_r=result.var_r,
    )


@dataclass(frozen=True)
class PowerResult:
    """Power of one planned design (J readers, K cases), or the K that reaches a target."""

    readers: int
    cases: int | None  # None: the target power is not reached within max_cases
    power: float
    effect: float
    alpha: float
    analysis: str
    method: str
    df_num: float
    df_den: float  # math.inf for a χ² test
    noncentrality: float
    critical_value: float
    components: dict[str, float] = field(default_factory=dict)
    target_power: float | None = None
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (an infinite df becomes None)."""
        body = asdict(self)
        body["df_den"] = None if math.isinf(self.df_den) else self.df_den
        body["components"] = {
            k: v if math.isfinite(v) else None for k, v in self.components.items()
        }
        return body


def _dbm(components: ORComponents | DBMComponents) -> DBMComponents:
    if isinstance(components, ORComponents):
        return components.to_dbm()
    if isinstance(components, DBMComponents):
        return components
    raise ValueError("components must be ORComponents or DBMComponents")


def _check(effect: float, alpha: float, readers: int, analysis: str, method: str) -> None:
    if analysis not in ANALYSES:
        raise ValueError(f"analysis must be one of {ANALYSES}, got {analysis!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not math.isfinite(effect) or effect == 0:
        raise ValueError(f"effect must be a non-zero finite AUC difference, got {effect!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    minimum = 1 if analysis == "FRRC" else 2
    if int(readers) != readers or readers < minimum:
        raise ValueError(
            f"{analysis} needs an integer number of readers ≥ {minimum}, got {readers!r}"
        )


def _power_grid(
    dbm: DBMComponents,
    effect: float,
    alpha: float,
    readers: int,
    cases: NDArray[np.float64],
    analysis: str,
    method: str,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Power, ddf, noncentrality and critical value for each number of cases (vectorised)."""
    var_tr = max(dbm.var_tr, 0.0)
    var_tc = max(dbm.var_tc, 0.0)
    j = float(readers)
    if analysis == "RRRC":
        denominator = var_tr + (dbm.var_error + j * var_tc) / cases
        ms_tr = var_tr + dbm.var_error / cases
        ddf = np.array(
            [hillis_ddf(d, m, readers - 1) for d, m in zip(denominator, ms_tr, strict=True)]
        )
    elif analysis == "FRRC":
        denominator = (dbm.var_error + j * var_tc) / cases
        ddf = np.full_like(cases, np.inf) if method == "OR" else cases - 1.0
    else:
        denominator = var_tr + dbm.var_error / cases
        ddf = np.full_like(cases, j - 1.0)
    noncentrality = j * effect**2 / (2.0 * denominator)
    finite = np.isfinite(ddf)
    critical = np.empty_like(cases)
    power = np.empty_like(cases)
    critical[~finite] = stats.chi2.ppf(1 - alpha, 1)
    power[~finite] = stats.ncx2.sf(critical[~finite], 1, noncentrality[~finite])
    if finite.any():
        critical[finite] = stats.f.ppf(1 - alpha, 1, ddf[finite])
        power[finite] = stats.ncf.sf(critical[finite], 1, ddf[finite], noncentrality[finite])
    return power, ddf, noncentrality, critical


def _describe(analysis: str, method: str) -> str:
    test = {
        "RRRC": "F(1, Hillis ddf)",
        "FRRC": "chi-square(1)" if method == "OR" else "F(1, K - 1)",
        "RRFC": "F(1, J - 1)",
    }[analysis]
    return (
        f"{method} {analysis} power, noncentral {test}; Hillis, Obuchowski & Berbaum 2011, "
        "Hillis & Schartz 2018"
    )


def _result(
    components: ORComponents | DBMComponents,
    effect: float,
    alpha: float,
    readers: int,
    cases: int | None,
    grid: tuple[Any, ...],
    index: int,
    analysis: str,
    method: str,
    target: float | None,
) -> PowerResult:
    power, ddf, noncentrality, critical = grid
    used = {k: float(v) for k, v in asdict(components).items()}
    if isinstance(components, ORComponents):
        used |= {
            f"dbm_{k}": float(v) for k, v in asdict(components.to_dbm()).items() if k != "var_r"
        }
    return PowerResult(
        readers=int(readers),
        cases=cases,
        power=float(power[index]),
        effect=float(effect),
        alpha=float(alpha),
        analysis=analysis,
        method=method,
        df_num=1.0,
        df_den=float(ddf[index]),
        noncentrality=float(noncentrality[index]),
        critical_value=float(critical[index]),
        components=used,
        target_power=target,
        description=_describe(analysis, method),
    )


def mrmc_power(
    components: ORComponents | DBMComponents,
    *,
    effect: float,
    readers: int,
    cases: int,
    alpha: float = 0.05,
    analysis: str = "RRRC",
    method: str = "OR",
) -> PowerResult:
    """Power of a two-modality study with ``readers`` readers and ``cases`` cases.

    Parameters
    ----------
    components : ORComponents or DBMComponents
        Pilot OR components (with the pilot's number of cases) or DBM components.
    effect : float
        Difference of reader-averaged AUCs (figures of merit) to detect, δ (sign ignored).
    readers, cases : int
        The planned study (J, K; K counts the cases of the same kind as the pilot's K*).
    alpha : float
        Two-sided level of the test.
    analysis : {"RRRC", "FRRC", "RRFC"}
    method : {"OR", "DBM"}
        Only FRRC differs: χ² (OR) or F(1, K − 1) (DBM).

    Returns
    -------
    PowerResult
    """
    _check(effect, alpha, readers, analysis, method)
    if int(cases) != cases or cases < 2:
        raise ValueError(f"cases must be an integer ≥ 2, got {cases!r}")
    grid = _power_grid(
        _dbm(components), effect, alpha, int(readers), np.array([float(cases)]), analysis, method
    )
    return _result(components, effect, alpha, readers, int(cases), grid, 0, analysis, method, None)


def mrmc_cases_for_power(
    components: ORComponents | DBMComponents,
    *,
    effect: float,
    readers: int,
    power: float = 0.8,
    alpha: float = 0.05,
    analysis: str = "RRRC",
    method: str = "OR",
    max_cases: int = 100_000,
) -> PowerResult:
    """The smallest number of cases (≥ 2) whose power reaches ``power`` (RJafroc's scan).

    Every K from 2 upwards is tried in order (in vectorised blocks), so the answer is the
    first K that reaches the target even where power is not monotone in K. When no K up to
    ``max_cases`` reaches it (e.g. σ²_TR too large for so few readers: RRRC and RRFC power
    is bounded as K → ∞), ``cases`` is None and ``power`` is that at ``max_cases``.
    """
    _check(effect, alpha, readers, analysis, method)
    if not 0 < power < 1:
        raise ValueError(f"power must lie in (0, 1), got {power!r}")
    if int(max_cases) != max_cases or max_cases < 2:
        raise ValueError(f"max_cases must be an integer ≥ 2, got {max_cases!r}")
    dbm = _dbm(components)
    start, block = 2, 512
    while start <= max_cases:
        stop = min(start + block, max_cases + 1)
        ks = np.arange(start, stop, dtype=np.float64)
        grid = _power_grid(dbm, effect, alpha, int(readers), ks, analysis, method)
        hits = np.flatnonzero(grid[0] >= power)
        if hits.size:
            index = int(hits[0])
            return _result(
                components,
                effect,
                alpha,
                readers,
                int(ks[index]),
                grid,
                index,
                analysis,
                method,
                power,
            )
        start, block = stop, block * 4
    last = _power_grid(
        dbm, effect, alpha, int(readers), np.array([float(max_cases)]), analysis, method
    )
    return _result(components, effect, alpha, readers, None, last, 0, analysis, method, power)
