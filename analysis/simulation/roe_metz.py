"""The Roe & Metz (1997) two-modality MRMC model: simulated studies and exact moments.

References
----------
Roe CA, Metz CE. Dorfman-Berbaum-Metz method for statistical analysis of multireader,
multimodality receiver operating characteristic data: validation with computer
simulation. Acad Radiol 1997;4:298–303.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class RoeMetzConfig:
    """The Roe & Metz (1997) model of a two-modality, fully crossed MRMC study.

    A reader's decision variable for case ``k`` (truth ``c``: 0 non-diseased, 1 diseased)
    in modality ``t`` is ``μ_t·c + R_j + C_k + (TR)_tj + (TC)_tk + (RC)_jk + ε_tjk``, every
    effect normal with mean 0 and the variance given here, drawn independently for the two
    truth classes (as Roe & Metz do). ``μ_1 = separation``, ``μ_2 = separation + shift``:
    ``shift = 0`` is the null hypothesis of equal AUCs. The defaults (our own choice: AUC
    ≈ 0.84, reader and case variability both material) put the case-level variance at 1.
    """

    separation: float = 1.4
    shift: float = 0.0
    var_r: float = 0.03
    var_tr: float = 0.015
    var_c: float = 0.3
    var_tc: float = 0.1
    var_rc: float = 0.2
    var_error: float = 0.4

    def __post_init__(self) -> None:
        for name in ("var_r", "var_tr", "var_c", "var_tc", "var_rc", "var_error"):
            value = float(getattr(self, name))
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite variance ≥ 0, got {value!r}")
        if self.var_c + self.var_tc + self.var_rc + self.var_error <= 0:
            raise ValueError("the case-level variances must not all be 0")


def simulate_roe_metz(
    config: RoeMetzConfig,
    *,
    readers: int,
    diseased: int,
    non_diseased: int,
    studies: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``studies`` independent studies of the Roe–Metz model, all at once.

    Returns
    -------
    ratings : ndarray, shape (studies, 2, readers, diseased + non_diseased)
        Decision variables (modality × reader × case per study); diseased cases first.
    truth : ndarray of bool, shape (diseased + non_diseased,)
    """
    if readers < 1 or diseased < 2 or non_diseased < 2 or studies < 1:
        raise ValueError("need readers ≥ 1, at least 2 cases of each truth class and studies ≥ 1")
    mu = np.array([config.separation, config.separation + config.shift])
    blocks = []
    for count, positive in ((diseased, True), (non_diseased, False)):
        s, j, k = studies, readers, count

        def draw(variance: float, shape: tuple[int, ...]) -> np.ndarray:
            return rng.normal(0.0, np.sqrt(variance), shape) if variance > 0 else np.zeros(shape)

        x = (
            draw(config.var_r, (s, 1, j, 1))
            + draw(config.var_c, (s, 1, 1, k))
            + draw(config.var_tr, (s, 2, j, 1))
            + draw(config.var_tc, (s, 2, 1, k))
            + draw(config.var_rc, (s, 1, j, k))
            + draw(config.var_error, (s, 2, j, k))
        )
        if positive:
            x = x + mu[None, :, None, None]
        blocks.append(x)
    truth = np.r_[np.ones(diseased, dtype=bool), np.zeros(non_diseased, dtype=bool)]
    return np.concatenate(blocks, axis=3), truth


def roe_metz_reader_moments(config: RoeMetzConfig, nodes: int = 40) -> dict[str, float]:
    """Population AUCs of the model and their reader variance components (exact quadrature).

    Given a reader's effects, his AUC in modality t is Φ((μ_t + W + V_t)/s) with
    W = R¹ − R⁰ ~ N(0, 2σ²_R), V_t = TR¹_t − TR⁰_t ~ N(0, 2σ²_TR) and
    s² = 2(σ²_C + σ²_TC + σ²_RC + σ²_ε); Gauss–Hermite quadrature over (W, V_1, V_2) gives
    E θ_t, the OR reader variance σ²_R = Cov(θ_1, θ_2) and σ²_TR = Var(θ_1 − θ_2)/2.
    """
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    s = np.sqrt(2 * (config.var_c + config.var_tc + config.var_rc + config.var_error))
    sd_w, sd_v = np.sqrt(2 * config.var_r), np.sqrt(2 * config.var_tr)
    big_w = sd_w * x[:, None, None]
    v1, v2 = sd_v * x[None, :, None], sd_v * x[None, None, :]
    weight = w[:, None, None] * w[None, :, None] * w[None, None, :]
    theta1 = stats.norm.cdf((config.separation + big_w + v1) / s)
    theta2 = stats.norm.cdf((config.separation + config.shift + big_w + v2) / s)
    theta1, theta2 = np.broadcast_arrays(theta1, theta2)
    m1, m2 = float(np.sum(weight * theta1)), float(np.sum(weight * theta2))
    cov = float(np.sum(weight * theta1 * theta2)) - m1 * m2
    var_diff = float(np.sum(weight * (theta1 - theta2) ** 2)) - (m1 - m2) ** 2
    return {"auc1": m1, "auc2": m2, "effect": m2 - m1, "var_r": cov, "var_tr": var_diff / 2}
