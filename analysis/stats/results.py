"""Frozen result types shared by every statistic in :mod:`analysis.stats`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AUCResult",
    "BinaryMetrics",
    "BlindingIndexResult",
    "ConfidenceInterval",
    "DBMResult",
    "Estimate",
    "KappaResult",
    "MRMCResult",
    "ModelVsReadersResult",
    "SampleSizeResult",
    "TestResult",
]


@dataclass(frozen=True)
class ConfidenceInterval:
    """A confidence interval with its level and the method that produced it."""

    low: float
    high: float
    level: float
    method: str

    def __post_init__(self) -> None:
        # Store plain floats whatever numpy scalar the caller computed.
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))
        object.__setattr__(self, "level", float(self.level))


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its CI; ``numerator``/``denominator`` for proportions."""

    value: float
    ci: ConfidenceInterval
    numerator: float | None = None
    denominator: float | None = None


@dataclass(frozen=True)
class TestResult:
    """A hypothesis test: statistic, p-value, degrees of freedom, effect estimate, CI."""

    statistic: float
    pvalue: float
    df: float | None
    estimate: float | None
    ci: ConfidenceInterval | None
    method: str


@dataclass(frozen=True)
class AUCResult:
    """Area under the ROC curve with its DeLong variance and CI."""

    auc: float
    variance: float
    ci: ConfidenceInterval
    method: str = "DeLong"


@dataclass(frozen=True)
class BinaryMetrics:
    """Sensitivity, specificity, predictive values, F1 and accuracy of binary calls."""

    sensitivity: Estimate
    specificity: Estimate
    ppv: Estimate
    npv: Estimate
    f1: Estimate
    accuracy: Estimate


@dataclass(frozen=True)
class KappaResult:
    """A kappa statistic, its SE and CI, and the test of kappa = 0 (with the H0 SE)."""

    kappa: float
    se: float
    ci: ConfidenceInterval
    statistic: float
    pvalue: float
    se_h0: float
    method: str = ""


@dataclass(frozen=True)
class BlindingIndexResult:
    """A blinding index with its SE, two-sided CI and one-sided limits."""

    estimate: float
    se: float
    ci: ConfidenceInterval
    lower_one_sided: float = float("nan")
    upper_one_sided: float = float("nan")
    bootstrap_ci: ConfidenceInterval | None = None
    arm: str = ""
    method: str = ""


@dataclass(frozen=True)
class MRMCResult:
    """Obuchowski–Rockette MRMC analysis (Hillis denominator df)."""

    auc: dict[Any, float]
    reader_auc: Any  # pandas.DataFrame, reader x modality
    difference: float
    ci: ConfidenceInterval
    statistic: float
    df_num: float
    df_den: float | None
    pvalue: float
    var_r: float
    var_tr: float
    var_error: float
    cov1: float
    cov2: float
    cov3: float
    ms_t: float
    ms_r: float
    ms_tr: float
    n_readers: int
    n_cases: int
    modalities: tuple[Any, ...]
    covariance: str
    readers: str
    cases: str
    endpoint: str
    method: str = "Obuchowski-Rockette, Hillis df"


@dataclass(frozen=True)
class DBMResult:
    """Dorfman–Berbaum–Metz analysis of jackknife pseudovalues (Hillis df)."""

    auc: dict[Any, float]
    difference: float
    ci: ConfidenceInterval
    statistic: float
    df_num: float
    df_den: float | None
    pvalue: float
    ms_t: float
    ms_r: float
    ms_c: float
    ms_tr: float
    ms_tc: float
    ms_rc: float
    ms_trc: float
    readers: str
    cases: str
    method: str = "Dorfman-Berbaum-Metz, Hillis df"


@dataclass(frozen=True)
class ModelVsReadersResult:
    """A standalone model (fixed reader) against the mean of random readers."""

    model_auc: float
    reader_mean_auc: float
    difference: float
    ci: ConfidenceInterval
    statistic: float
    df: float
    pvalue: float
    reader_auc: dict[Any, float] = field(default_factory=dict)
    method: str = ""


@dataclass(frozen=True)
class SampleSizeResult:
    """Power of planned reader x case designs from pilot OR variance components."""

    table: Any  # pandas.DataFrame with columns readers, cases, power, df_den
    effect: float
    alpha: float
    power: float
    method: str = "Hillis & Obuchowski OR power"
