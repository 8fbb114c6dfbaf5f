"""Simulation check of the MRMC power planner with the Roe–Metz simulator (pure, no Django).

For a Roe–Metz configuration, J readers and each planned number of cases K, many studies
are simulated and analysed with :func:`analysis.stats.mrmc.mrmc_or_arrays` (OR, jackknife,
RRRC, Hillis df: the analysis the platform runs); the rejection rate is compared with the
power the planner predicts from the model's true OR components: σ²_TR and the effect size
exactly (:func:`analysis.simulation.roe_metz_reader_moments`), Var and Cov1–3 at K as the
mean of the unbiased (Gallas 2007) case-covariance estimates over the simulated studies.
Under the null (equal separations) the rejection rate is the type-I error, expected at α.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import plotly.graph_objects as go
from scipy import optimize

from analysis.simulation import RoeMetzConfig, roe_metz_reader_moments, simulate_roe_metz
from analysis.stats.mrmc import mrmc_or_arrays
from analysis.stats.power import ORComponents, mrmc_power

__all__ = ["PowerCheck", "PowerCheckPoint", "power_check", "power_check_figure", "shift_for_effect"]


@dataclass(frozen=True)
class PowerCheckPoint:
    """One planned design: predicted power and the simulated rejection rate."""

    cases: int
    effect: float
    predicted: float
    rejected: int
    studies: int
    df_den: float
    null: bool

    @property
    def rate(self) -> float:
        return self.rejected / self.studies

    @property
    def se(self) -> float:
        """Monte-Carlo standard error of the rate, at the predicted value."""
        p = min(max(self.predicted, 1e-9), 1 - 1e-9)
        return math.sqrt(p * (1 - p) / self.studies)

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body |= {"rate": self.rate, "se": self.se}
        body["df_den"] = None if math.isinf(self.df_den) else self.df_den
        return body


@dataclass(frozen=True)
class PowerCheck:
    readers: int
    alpha: float
    config: dict[str, float]
    points: tuple[PowerCheckPoint, ...]
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "readers": self.readers,
            "alpha": self.alpha,
            "config": self.config,
            "seed": self.seed,
            "points": [p.to_dict() for p in self.points],
        }


def shift_for_effect(config: RoeMetzConfig, effect: float) -> float:
    """The separation shift of modality 2 whose population AUC difference is ``effect``."""
    if not math.isfinite(effect) or abs(effect) >= 1 - roe_metz_reader_moments(config)["auc1"]:
        raise ValueError(f"effect {effect!r} is out of reach for this configuration")

    def gap(shift: float) -> float:
        return roe_metz_reader_moments(replace(config, shift=shift))["effect"] - effect

    return float(optimize.brentq(gap, -10.0, 10.0, xtol=1e-10))


def _point(
    config: RoeMetzConfig,
    readers: int,
    cases: int,
    studies: int,
    alpha: float,
    rng: np.random.Generator,
    null: bool,
    chunk: int = 100,
) -> PowerCheckPoint:
    diseased = cases // 2
    moments = roe_metz_reader_moments(config)
    rejected = 0
    sums = np.zeros(4)
    ddf = []
    done = 0
    while done < studies:
        size = min(chunk, studies - done)
        ratings, truth = simulate_roe_metz(
            config,
            readers=readers,
            diseased=diseased,
            non_diseased=cases - diseased,
            studies=size,
            rng=rng,
        )
        for study in ratings:
            result = mrmc_or_arrays(study, truth)
            rejected += result.pvalue < alpha
            assert result.df_den is not None  # random readers: Hillis ddf, never None
            ddf.append(result.df_den)
            unbiased = mrmc_or_arrays(study, truth, covariance="unbiased")
            sums += (unbiased.var_error, unbiased.cov1, unbiased.cov2, unbiased.cov3)
        done += size
    var, cov1, cov2, cov3 = sums / studies
    if null:
        predicted, df_den = alpha, float(np.median(ddf))
    else:
        truth_components = ORComponents(
            var_tr=moments["var_tr"], var_error=var, cov1=cov1, cov2=cov2, cov3=cov3, n_cases=cases
        )
        plan = mrmc_power(
            truth_components, effect=moments["effect"], readers=readers, cases=cases, alpha=alpha
        )
        predicted, df_den = plan.power, plan.df_den
    return PowerCheckPoint(
        cases=cases,
        effect=moments["effect"],
        predicted=predicted,
        rejected=int(rejected),
        studies=studies,
        df_den=df_den,
        null=null,
    )


def power_check(
    config: RoeMetzConfig,
    *,
    readers: int,
    cases: Sequence[int],
    studies: int,
    alpha: float = 0.05,
    null_cases: int | None = None,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> PowerCheck:
    """Simulated rejection rates against predicted power for each K in ``cases``.

    ``config.shift`` sets the effect (see :func:`shift_for_effect`); with ``null_cases``
    one more point runs the null configuration (shift 0) at that K for the type-I error.
    Seeded: the same arguments give the same result.
    """
    if readers < 2 or studies < 1 or not cases:
        raise ValueError("need readers ≥ 2, studies ≥ 1 and at least one number of cases")
    if any(int(k) < 4 for k in cases):
        raise ValueError("every number of cases must be at least 4")
    rng = np.random.default_rng(seed)
    plan = [(int(k), False) for k in cases]
    if null_cases is not None:
        plan.append((int(null_cases), True))
    points = []
    for index, (k, null) in enumerate(plan):
        chosen = replace(config, shift=0.0) if null else config
        points.append(_point(chosen, readers, k, studies, alpha, rng, null))
        if progress:
            progress(int(100 * (index + 1) / len(plan)))
    return PowerCheck(
        readers=readers, alpha=alpha, config=asdict(config), points=tuple(points), seed=seed
    )


def power_check_figure(check: dict[str, Any], labels: dict[str, str]) -> go.Figure:
    """Predicted power (line) and simulated rejection rates with 95 % MC intervals.

    ``check`` is :meth:`PowerCheck.to_dict`; ``labels`` the translated texts: ``title``,
    ``cases``, ``power``, ``predicted``, ``simulated``, ``null``, ``alpha``.
    """
    alt = [p for p in check["points"] if not p["null"]]
    null = [p for p in check["points"] if p["null"]]
    figure = go.Figure()
    xs = [p["cases"] for p in alt]
    figure.add_trace(
        go.Scatter(
            x=xs, y=[p["predicted"] for p in alt], mode="lines+markers", name=labels["predicted"]
        )
    )
    figure.add_trace(
        go.Scatter(
            x=xs,
            y=[p["rate"] for p in alt],
            mode="markers",
            name=labels["simulated"],
            error_y={"type": "data", "array": [1.96 * p["se"] for p in alt], "visible": True},
        )
    )
    if null:
        figure.add_trace(
            go.Scatter(
                x=[p["cases"] for p in null],
                y=[p["rate"] for p in null],
                mode="markers",
                marker={"symbol": "x", "size": 10},
                name=labels["null"],
                error_y={"type": "data", "array": [1.96 * p["se"] for p in null], "visible": True},
            )
        )
    figure.add_hline(y=check["alpha"], line_dash="dot", annotation_text=labels["alpha"])
    figure.update_layout(
        title=labels["title"],
        xaxis_title=labels["cases"],
        yaxis_title=labels["power"],
        yaxis_range=[0, 1],
        template="plotly_white",
    )
    return figure
