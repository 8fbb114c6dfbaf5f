"""Planning the next study: power and sample size from a pilot study or typed components.

Services (no HTTP): which studies may serve as a pilot for a user (those where he is a
statistician or coordinator, locked or unblinded: the MRMC report's rule), their OR
variance components (junior readers alone vs with AI, the MRMC report's comparison,
jackknife covariances), the plan itself (:mod:`analysis.stats.power`) and the simulation
check (:mod:`analysis.power_check`) as an analysis job of kind ``power_check``.
"""

from __future__ import annotations

import math
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from analysis.stats.power import (
    DBMComponents,
    ORComponents,
    PowerResult,
    mrmc_cases_for_power,
    mrmc_power,
    or_components_from_result,
)
from trials.models import Role, Study, StudyStatus
from trials.permissions import active_memberships

POWER_CHECK = "power_check"
ROLES = (Role.STATISTICIAN, Role.COORDINATOR)
#: Simulated studies per point of the check shown on the planner page.
CHECK_STUDIES = 200


class PlanRefused(Exception):
    """The plan cannot be made as asked (the message says why); a 400/403 for the user."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def pilot_studies(user: Any) -> list[Study]:
    """Studies whose components ``user`` may use: his role allows analysis, and locked."""
    ids = active_memberships(user).filter(role__in=ROLES).values_list("study_id", flat=True)
    return list(
        Study.objects.filter(
            pk__in=ids, status__in=(StudyStatus.LOCKED, StudyStatus.UNBLINDED)
        ).order_by("title")
    )


def pilot_components(*, user: Any, study_id: Any) -> tuple[ORComponents, float, Study]:
    """The pilot's OR components and its observed AUC difference (with AI − alone)."""
    from analysis.reports.mrmc import _long
    from analysis.selectors import study_data
    from analysis.stats import mrmc_or

    study = next((s for s in pilot_studies(user) if str(s.pk) == str(study_id)), None)
    if study is None:
        raise PlanRefused(_("No such pilot study among the locked studies you may analyse."), 403)
    long, layout = _long(study_data(study=study))
    # A split-plot pilot (layout not None) has no fully crossed reads: refused like one too few.
    if layout is not None or long.empty or long["reader"].nunique() < 2:
        raise PlanRefused(
            _(
                "The pilot study has no fully crossed reads alone and with AI of two or "
                "more junior readers."
            )
        )
    result = mrmc_or(long)
    return or_components_from_result(result), float(result.difference), study


def typed_components(method: str, values: dict[str, Any]) -> ORComponents | DBMComponents:
    """Components typed by the user (OR with the pilot's cases, or DBM)."""
    try:
        if method == "DBM":
            return DBMComponents(
                var_tr=values["var_tr"],
                var_tc=values["var_tc"],
                var_error=values["var_error"],
                var_r=values.get("var_r") or math.nan,
            )
        return ORComponents(
            var_tr=values["var_tr"],
            var_error=values["var_error"],
            cov1=values["cov1"],
            cov2=values["cov2"],
            cov3=values["cov3"],
            n_cases=values["n_cases"],
            var_r=values.get("var_r") or math.nan,
        )
    except KeyError as exc:
        raise PlanRefused(
            _("A variance component is missing: %(name)s") % {"name": exc.args[0]}
        ) from exc
    except ValueError as exc:
        raise PlanRefused(str(exc)) from exc


def make_plan(
    components: ORComponents | DBMComponents,
    *,
    effect: float,
    readers: int,
    cases: int | None,
    power: float | None,
    alpha: float,
    analysis: str,
    method: str,
) -> PowerResult:
    """Power for (readers, cases), or the cases that reach ``power``."""
    try:
        if cases is not None:
            return mrmc_power(
                components,
                effect=effect,
                readers=readers,
                cases=cases,
                alpha=alpha,
                analysis=analysis,
                method=method,
            )
        return mrmc_cases_for_power(
            components,
            effect=effect,
            readers=readers,
            power=power or 0.8,
            alpha=alpha,
            analysis=analysis,
            method=method,
        )
    except ValueError as exc:
        raise PlanRefused(str(exc)) from exc


def check_params(plan: PowerResult) -> dict[str, Any]:
    """The simulation check's parameters for a plan: its J, δ, α, and K around its K."""
    k = plan.cases or 200
    grid = sorted({max(20, round(k / 2)), max(20, k), max(20, min(2 * k, 600))})
    return {
        "readers": plan.readers,
        "effect": abs(plan.effect),
        "alpha": plan.alpha,
        "cases": grid,
        "studies": CHECK_STUDIES,
        "seed": 0,
    }


def power_check_runner(job: Any, progress: Any) -> tuple[dict[str, Any], None]:
    """The ``power_check`` job: :func:`analysis.power_check.power_check` with its params."""
    from dataclasses import replace

    from analysis.power_check import power_check, shift_for_effect
    from analysis.simulation import RoeMetzConfig

    params = job.params
    base = RoeMetzConfig()
    config = replace(base, shift=shift_for_effect(base, float(params["effect"])))
    points = len(params["cases"]) + 1

    def report(percent: int) -> None:
        progress(round(percent * points / 100), points, gettext_noop("Simulating studies"))

    check = power_check(
        config,
        readers=int(params["readers"]),
        cases=[int(k) for k in params["cases"]],
        studies=int(params["studies"]),
        alpha=float(params["alpha"]),
        null_cases=int(params["cases"][len(params["cases"]) // 2]),
        seed=int(params["seed"]),
        progress=report,
    )
    return check.to_dict(), None


def register_runner() -> None:
    """Add the ``power_check`` runner to the analysis job mechanism (idempotent)."""
    from analysis import jobs

    jobs.RUNNERS.setdefault(POWER_CHECK, power_check_runner)


def start_check(*, study: Study, actor: Any, plan: PowerResult) -> Any:
    """The check's job for this plan (reused when the same check ran before)."""
    from analysis.jobs import fingerprint, job_get_or_start

    params = check_params(plan)
    snapshot = fingerprint([POWER_CHECK, *sorted(params.items())])
    return job_get_or_start(
        study=study, kind=POWER_CHECK, actor=actor, snapshot=snapshot, params=params
    )
