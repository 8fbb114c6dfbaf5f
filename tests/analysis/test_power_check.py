"""The power planner against a Roe–Metz simulation: predicted power and type-I error hold.

Seeded and small enough for the suite (~20 s); benchmarks/bench_power_simulation.py runs
the same check with more studies and designs.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from analysis.power_check import power_check, power_check_figure, shift_for_effect
from analysis.simulation import RoeMetzConfig, roe_metz_reader_moments, simulate_roe_metz


def test_reader_moments_match_brute_force() -> None:
    import numpy as np
    from scipy import stats

    config = RoeMetzConfig(shift=0.3)
    exact = roe_metz_reader_moments(config)
    rng = np.random.default_rng(5)
    n = 400_000
    w = rng.normal(0, np.sqrt(2 * config.var_r), n)
    v = rng.normal(0, np.sqrt(2 * config.var_tr), (2, n))
    s = np.sqrt(2 * (config.var_c + config.var_tc + config.var_rc + config.var_error))
    theta1 = stats.norm.cdf((config.separation + w + v[0]) / s)
    theta2 = stats.norm.cdf((config.separation + config.shift + w + v[1]) / s)
    assert exact["effect"] == pytest.approx(np.mean(theta2 - theta1), abs=2e-4)
    assert exact["var_tr"] == pytest.approx(np.var(theta1 - theta2) / 2, rel=0.02)
    assert exact["var_r"] == pytest.approx(np.cov(theta1, theta2)[0, 1], rel=0.02)


def test_simulator_shapes_and_seed() -> None:
    import numpy as np

    a, truth = simulate_roe_metz(
        RoeMetzConfig(),
        readers=3,
        diseased=4,
        non_diseased=6,
        studies=2,
        rng=np.random.default_rng(1),
    )
    b, _ = simulate_roe_metz(
        RoeMetzConfig(),
        readers=3,
        diseased=4,
        non_diseased=6,
        studies=2,
        rng=np.random.default_rng(1),
    )
    assert a.shape == (2, 2, 3, 10) and truth.tolist() == [True] * 4 + [False] * 6
    assert (a == b).all()


def test_simulated_rejection_rate_matches_predicted_power_and_alpha() -> None:
    config = RoeMetzConfig()
    config = replace(config, shift=shift_for_effect(config, 0.07))
    check = power_check(config, readers=6, cases=[100], studies=400, null_cases=100, seed=11)
    power, null = check.points
    assert power.effect == pytest.approx(0.07, abs=1e-8)
    assert 0.4 < power.predicted < 0.95  # an informative design, neither trivial nor hopeless
    assert abs(power.rate - power.predicted) <= 3 * power.se
    assert null.null and null.predicted == 0.05
    assert abs(null.rate - 0.05) <= 3 * null.se
    figure = power_check_figure(
        check.to_dict(),
        {
            "title": "t",
            "cases": "K",
            "power": "p",
            "predicted": "pred",
            "simulated": "sim",
            "null": "null",
            "alpha": "alpha",
        },
    )
    assert len(figure.data) == 3
