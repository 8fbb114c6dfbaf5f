"""MRMC power and sample size against RJafroc's published Van Dyke figures.

Expected values: RJafroc (dpc10ster/RJafroc), tests/testthat/test-SsSampleSizeRoc.R
(SsPowerGivenJK / SsSampleSizeKGivenJ on dataset02 = Van Dyke, FOM "Wilcoxon", the pilot's
observed effect −0.043800322, α = 0.05), and the book vignette "ROC-DBMH sample size using
RJafroc" (dpc10ster/RJafrocBook, 13-SampleSize3.utf8.md: J = 10 → K = 163 (power
0.8015625), 90 % → K = 236 (0.9003501), FRRC with F(1, K − 1) → K = 133 (0.8011167),
RRFC → K = 53 (0.8049666); J = 6, K = 112 → 0.5555789; power table J = 4 → 1089,
J = 6 → 251). Note: these use the observed effect 0.0438, not 0.05.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.stats import mrmc_or, mrmc_sample_size
from analysis.stats.power import (
    DBMComponents,
    ORComponents,
    mrmc_cases_for_power,
    mrmc_power,
    or_components_from_result,
)
from tests.analysis.validation import validation_file

EFFECT = -0.043800322


@pytest.fixture(scope="module")
def pilot() -> ORComponents:
    frame = pd.read_csv(validation_file("mrmc_vandyke", "VanDyke_long.csv"))
    frame = frame.rename(columns={"treatment": "modality"})
    return or_components_from_result(
        mrmc_or(frame[["reader", "modality", "case", "truth", "rating"]])
    )


@pytest.mark.parametrize(
    ("readers", "cases", "analysis", "method", "expected"),
    [
        (10, 165, "RRRC", "OR", 0.80541995),  # RJafroc test, tolerance 1e-8
        (10, 165, "RRRC", "DBM", 0.80541995),  # DBM (Hillis 2018) equals OR for RRRC
        (10, 131, "FRRC", "OR", 0.80091813),  # chi-square test (RJafroc >= 2)
        (10, 53, "RRFC", "OR", 0.80496663),
        (6, 111, "RRRC", "OR", 0.5526116),
        (6, 112, "RRRC", "OR", 0.5555789),  # book vignette
        (10, 133, "FRRC", "DBM", 0.8011167),  # F(1, K - 1), book vignette (DBMH)
        (10, 163, "RRRC", "OR", 0.8015625),
        (10, 236, "RRRC", "OR", 0.9003501),
    ],
)
def test_power_matches_rjafroc(
    pilot: ORComponents, readers: int, cases: int, analysis: str, method: str, expected: float
) -> None:
    result = mrmc_power(
        pilot, effect=EFFECT, readers=readers, cases=cases, analysis=analysis, method=method
    )
    assert result.power == pytest.approx(expected, abs=5e-8)


@pytest.mark.parametrize(
    ("readers", "power", "analysis", "method", "cases"),
    [
        (10, 0.8, "RRRC", "OR", 163),
        (10, 0.8, "RRRC", "DBM", 163),
        (10, 0.9, "RRRC", "OR", 236),
        (10, 0.8, "FRRC", "OR", 131),
        (10, 0.8, "FRRC", "DBM", 133),
        (10, 0.8, "RRFC", "OR", 53),
        (6, 0.8, "RRRC", "OR", 251),
        (4, 0.8, "RRRC", "OR", 1089),
        (5, 0.8, "RRRC", "OR", 344),
        (20, 0.8, "RRRC", "OR", 126),
    ],
)
def test_cases_match_rjafroc(
    pilot: ORComponents, readers: int, power: float, analysis: str, method: str, cases: int
) -> None:
    plan = mrmc_cases_for_power(
        pilot, effect=EFFECT, readers=readers, power=power, analysis=analysis, method=method
    )
    assert plan.cases == cases
    assert plan.power >= power
    before = mrmc_power(
        pilot, effect=EFFECT, readers=readers, cases=cases - 1, analysis=analysis, method=method
    )
    assert before.power < power


def test_dbm_components_give_the_same_plan(pilot: ORComponents) -> None:
    dbm = pilot.to_dbm()
    # The DBM pseudovalue components of Van Dyke (MS(T×R) − MS(T×R×C))/K etc.
    assert dbm.var_tr == pytest.approx(0.0002004025, rel=1e-6)
    typed = DBMComponents(var_tr=dbm.var_tr, var_tc=dbm.var_tc, var_error=dbm.var_error)
    for analysis in ("RRRC", "FRRC", "RRFC"):
        a = mrmc_cases_for_power(pilot, effect=0.05, readers=8, analysis=analysis, method="DBM")
        b = mrmc_cases_for_power(typed, effect=0.05, readers=8, analysis=analysis, method="DBM")
        assert (a.cases, a.power, a.df_den) == (b.cases, b.power, b.df_den)


def test_frrc_or_is_a_chi_square_test(pilot: ORComponents) -> None:
    result = mrmc_power(pilot, effect=0.05, readers=5, cases=100, analysis="FRRC")
    assert math.isinf(result.df_den) and result.to_dict()["df_den"] is None
    assert result.critical_value == pytest.approx(3.841459, abs=1e-6)


def test_unreachable_power_says_so(pilot: ORComponents) -> None:
    plan = mrmc_cases_for_power(pilot, effect=EFFECT, readers=3, max_cases=5000)
    assert plan.cases is None and plan.power < 0.8


def test_effect_alpha_and_power_are_the_users(pilot: ORComponents) -> None:
    small = mrmc_cases_for_power(pilot, effect=0.05, readers=10).cases
    big = mrmc_cases_for_power(pilot, effect=0.08, readers=10).cases
    strict = mrmc_cases_for_power(pilot, effect=0.05, readers=10, alpha=0.01).cases
    more = mrmc_cases_for_power(pilot, effect=0.05, readers=10, power=0.9).cases
    assert small is not None and big is not None and strict is not None and more is not None
    assert big < small < strict and small < more


def test_sample_size_table_is_the_planner(pilot: ORComponents) -> None:
    frame = pd.read_csv(validation_file("mrmc_vandyke", "VanDyke_long.csv"))
    frame = frame.rename(columns={"treatment": "modality"})
    table = mrmc_sample_size(mrmc_or(frame), effect=EFFECT, readers=[4, 6, 10]).table
    assert table["cases"].tolist() == [1089, 251, 163]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"effect": 0.0},
        {"effect": float("nan")},
        {"alpha": 1.0},
        {"readers": 1},
        {"analysis": "FRFC"},
        {"method": "iMRMC"},
    ],
)
def test_bad_arguments(pilot: ORComponents, kwargs: dict[str, object]) -> None:
    arguments: dict[str, object] = {"effect": 0.05, "readers": 5, "cases": 100} | kwargs
    with pytest.raises(ValueError):
        mrmc_power(pilot, **arguments)  # type: ignore[arg-type]


def test_bad_components() -> None:
    with pytest.raises(ValueError):
        ORComponents(var_tr=0.0, var_error=0.001, cov1=0.002, cov2=0.0, cov3=0.0, n_cases=50)
    with pytest.raises(ValueError):
        ORComponents(var_tr=0.0, var_error=0.001, cov1=0.0, cov2=0.0, cov3=0.0, n_cases=1)
    with pytest.raises(ValueError):
        DBMComponents(var_tr=0.0, var_tc=0.0, var_error=0.0)
