"""A Roe–Metz-style reader simulator for NCLS reader studies (pure, no Django).

Every read is a latent decision variable ``X = truth·μ_r + s_c·d_c + ε_rc``: ``μ_r`` is
the reader's skill (the separation of severe from non-severe cases, drawn per reader
around its tier's mean), ``d_c`` the case's own difficulty (shared by every reader and
the AI, which makes readers' errors correlated, as in Roe & Metz 1997; ``s_c`` is −1 for
a severe and +1 for a non-severe case, so a difficult case looks like the other class)
and ``ε_rc`` reader × case noise. A reader calls a case severe when ``X`` passes his own
threshold; his confidence grows with the distance from it. The AI is one more reader
with a probability. In an AI-assisted re-read a junior leans on the AI's latent value
with his own weight, so aided juniors are better in expectation whenever the AI is.

The blinded source trial: each senior reviews every case with material (initial
diagnosis) from the AI or from a junior of his group, at random; he guesses the source
(correct with probability ``(1 + unblinding)/2`` when he does not answer "don't know"),
then keeps the initial diagnosis unless his own read disagrees and he overrides it.
Qualitative scores: two raters × four criteria, 1–5, from a per-case quality.

References
----------
Roe CA, Metz CE. Dorfman-Berbaum-Metz method for statistical analysis of multireader,
multimodality receiver operating characteristic data: validation with computer
simulation. Acad Radiol 1997;4:298–303.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special, stats

from analysis.frames import (
    AI_READER,
    BLINDED_COLUMNS,
    CASE_COLUMNS,
    QUALITATIVE_COLUMNS,
    QUALITATIVE_CRITERIA,
    READ_COLUMNS,
    READER_RATING_COLUMN,
    StudyData,
)

__all__ = [
    "RoeMetzConfig",
    "SimulationConfig",
    "TierSkill",
    "latent_rating",
    "roe_metz_reader_moments",
    "simulate_cases",
    "simulate_roe_metz",
    "simulate_study",
]

_SEVERE_CONDITIONS = (("ivh_3", 0.35), ("ivh_4", 0.25), ("pvl", 0.2), ("hydrocephalus", 0.2))
_MILD_CONDITIONS = (
    ("normal", 0.6),
    ("ivh_1", 0.12),
    ("ivh_2", 0.1),
    ("ependymal_cyst", 0.1),
    ("ventricular_dilation", 0.08),
)
_PROBES = (("microconvex", 0.6), ("linear", 0.25), ("phased", 0.15))


@dataclass(frozen=True)
class TierSkill:
    """A tier's readers: skill (separation) mean and spread, threshold offset, read time."""

    separation: float
    separation_sd: float
    threshold_offset: float
    read_time_s: float


@dataclass(frozen=True)
class SimulationConfig:
    """Everything the simulator draws from; the defaults give a paper-sized study."""

    datasets: tuple[tuple[str, int], ...] = (("internal", 199), ("external", 356))
    blind_sweep_cases: int = 111
    prevalence: float = 0.15
    n_junior: int = 9
    n_mid: int = 11
    n_senior: int = 3
    skills: dict[str, TierSkill] = field(
        default_factory=lambda: {
            "junior": TierSkill(1.6, 0.25, 0.1, 60.1),
            "mid_level": TierSkill(2.0, 0.25, 0.0, 63.4),
            "senior": TierSkill(2.8, 0.2, 0.0, 45.0),
        }
    )
    case_difficulty_sd: float = 0.7
    ai_separation: float = 2.8
    ai_threshold: float = 0.5
    ai_read_time_s: float = 28.97
    #: How far a junior leans on the AI when aided (uniform between the two).
    ai_weight: tuple[float, float] = (0.35, 0.65)
    #: Correlation of a reader's own noise between his unaided and aided reads.
    reread_correlation: float = 0.6
    aided_time_factor: float = 0.85
    #: Blinded trial: 0 = perfect blinding, 1 = every guess right.
    unblinding: float = 0.1
    dont_know_rate: float = 0.4
    override_rate: float = 0.85
    #: A senior overrides only when his own read is at least this far from his threshold.
    override_margin: float = 0.5
    secondary_time_s: float = 6.0
    change_time_s: float = 5.0
    #: Readers also give a probability-of-severe rating 0–100 (column ``reader_rating``):
    #: ``round(100·Φ(X − threshold))``, a monotone map of the latent value (≥ 50 exactly
    #: when the call is severe, apart from rounding at the threshold). Draws nothing, so
    #: the rest of the study is the same with or without it.
    ratings: bool = False
    seed: int = 0


def _choice(
    rng: np.random.Generator, options: tuple[tuple[str, float], ...], size: int
) -> np.ndarray:
    names = np.array([name for name, _ in options])
    weights = np.array([w for _, w in options], dtype=float)
    return names[rng.choice(len(names), size=size, p=weights / weights.sum())]


def simulate_cases(
    datasets: tuple[tuple[str, int], ...], prevalence: float, rng: np.random.Generator
) -> pd.DataFrame:
    """Cases with truth, gold-standard condition, probe type and gestational age."""
    frames = []
    for name, count in datasets:
        truth = (rng.random(count) < prevalence).astype(int)
        condition = np.where(
            truth == 1,
            _choice(rng, _SEVERE_CONDITIONS, count),
            _choice(rng, _MILD_CONDITIONS, count),
        )
        ga = np.clip(np.round(rng.normal(np.where(truth == 1, 29.0, 33.0), 3.5)), 24, 42).astype(
            int
        )
        prefix = name[:3].upper()
        frames.append(
            pd.DataFrame(
                {
                    "case": [f"{prefix}{i:04d}" for i in range(1, count + 1)],
                    "dataset": name,
                    "truth": truth,
                    "condition": condition,
                    "probe_type": _choice(rng, _PROBES, count),
                    "ga_weeks": ga,
                }
            )
        )
    return pd.concat(frames, ignore_index=True).loc[:, list(CASE_COLUMNS)]


def _lognormal(
    rng: np.random.Generator, mean: float, size: int | tuple[int, ...], cv: float = 0.4
) -> np.ndarray:
    sigma = np.sqrt(np.log1p(cv**2))
    return rng.lognormal(np.log(mean) - sigma**2 / 2, sigma, size=size)


def _confidence(distance: np.ndarray) -> np.ndarray:
    # 0 at the threshold, towards 100 far from it.
    return np.round(100 * (2 * stats.norm.cdf(np.abs(distance)) - 1)).astype(int)


def latent_rating(distance: np.ndarray) -> np.ndarray:
    """A simulated reader's rating 0–100 of his latent value's distance from his threshold
    (integers, increasing with the latent value: ``round(100·Φ(distance))``)."""
    return np.round(100 * stats.norm.cdf(distance)).astype(int)


def _reads_frame(
    readers: list[str],
    tier: str,
    modality: str,
    cases: pd.DataFrame,
    latent: np.ndarray,
    threshold: np.ndarray,
    times: np.ndarray,
    ratings: bool = False,
) -> pd.DataFrame:
    distance = latent - threshold[:, None]
    decision = (distance > 0).astype(int)
    confidence = _confidence(distance)
    rating = 50.0 + np.where(decision == 1, 1, -1) * confidence / 2.0
    r, c = latent.shape
    frame = pd.DataFrame(
        {
            "reader": np.repeat(readers, c),
            "tier": tier,
            "modality": modality,
            "case": np.tile(cases["case"].to_numpy(), r),
            "rating": rating.ravel(),
            "decision": decision.ravel(),
            "confidence": confidence.ravel(),
            "read_time_s": np.round(times.ravel(), 1),
        }
    )
    if ratings:
        frame[READER_RATING_COLUMN] = latent_rating(distance).ravel().astype(float)
        frame["rating"] = frame[READER_RATING_COLUMN]
    return frame


def simulate_study(
    config: SimulationConfig | None = None,
    *,
    cases: pd.DataFrame | None = None,
    qualitative_cases: list[str] | None = None,
    readers: dict[str, list[str]] | None = None,
    title: str = "Simulated NCLS reader study",
) -> StudyData:
    """Simulate a whole study: unaided, aided and AI reads, blinded trial, qualitative scores.

    Parameters
    ----------
    config : SimulationConfig, optional
        Sizes, skills and seed (the defaults: 555 cases, 9 juniors, 11 mid-level readers,
        3 seniors).
    cases : DataFrame, optional
        Existing cases (columns of :data:`analysis.frames.CASE_COLUMNS`), e.g. a demo
        study's; otherwise drawn from ``config.datasets``.
    qualitative_cases : list of str, optional
        Cases the two raters score (blind sweeps); otherwise ``config.blind_sweep_cases``
        new ones.
    readers : dict, optional
        Reader names per tier (``junior``, ``mid_level``, ``senior``); otherwise J01…,
        M01…, S01… in the configured numbers.
    title : str

    Returns
    -------
    StudyData
        Seeded: the same arguments give the same frames.
    """
    config = config or SimulationConfig()
    rng = np.random.default_rng(config.seed)
    if cases is None:
        cases = simulate_cases(config.datasets, config.prevalence, rng)
    cases = cases.loc[:, list(CASE_COLUMNS)].reset_index(drop=True)
    if readers is None:
        readers = {
            "junior": [f"J{i:02d}" for i in range(1, config.n_junior + 1)],
            "mid_level": [f"M{i:02d}" for i in range(1, config.n_mid + 1)],
            "senior": [f"S{i:02d}" for i in range(1, config.n_senior + 1)],
        }
    truth = cases["truth"].to_numpy(dtype=int)
    n_cases = truth.size
    sign = np.where(truth == 1, -1.0, 1.0)
    difficulty = rng.normal(0.0, config.case_difficulty_sd, n_cases)
    shared = sign * difficulty

    def latent_for(separation: np.ndarray, noise: np.ndarray) -> np.ndarray:
        return truth[None, :] * separation[:, None] + shared[None, :] + noise

    # The AI.
    ai_latent = truth * config.ai_separation + shared + rng.normal(0.0, 1.0, n_cases)
    ai_probability = special.expit(1.7 * (ai_latent - config.ai_separation / 2))
    ai_frame = pd.DataFrame(
        {
            "reader": AI_READER,
            "tier": "ai",
            "modality": "ai",
            "case": cases["case"].to_numpy(),
            "rating": np.round(100 * ai_probability, 4),
            "decision": (ai_probability >= config.ai_threshold).astype(int),
            "confidence": np.round(100 * np.abs(2 * ai_probability - 1)).astype(int),
            "read_time_s": np.round(_lognormal(rng, config.ai_read_time_s, n_cases, cv=0.15), 1),
        }
    )
    frames = [ai_frame]
    own: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    for tier in ("junior", "mid_level", "senior"):
        names = readers.get(tier, [])
        if not names:
            continue
        skill = config.skills[tier]
        separation = np.maximum(rng.normal(skill.separation, skill.separation_sd, len(names)), 0.2)
        threshold = separation / 2 + skill.threshold_offset + rng.normal(0.0, 0.25, len(names))
        noise = rng.normal(0.0, 1.0, (len(names), n_cases))
        latent = latent_for(separation, noise)
        own[tier] = (separation, threshold, noise, latent)
        if tier == "senior":
            continue  # seniors read in the blinded trial only
        times = _lognormal(rng, skill.read_time_s, latent.shape)
        frames.append(
            _reads_frame(names, tier, "unaided", cases, latent, threshold, times, config.ratings)
        )

    if "junior" in own:
        separation, threshold, noise, _ = own["junior"]
        names = readers["junior"]
        rho = config.reread_correlation
        renoise = rho * noise + np.sqrt(1 - rho**2) * rng.normal(0.0, 1.0, noise.shape)
        weight = rng.uniform(*config.ai_weight, len(names))[:, None]
        aided = (1 - weight) * latent_for(separation, renoise) + weight * ai_latent[None, :]
        aided_threshold = (1 - weight[:, 0]) * threshold + weight[:, 0] * config.ai_separation / 2
        times = _lognormal(
            rng, config.skills["junior"].read_time_s * config.aided_time_factor, aided.shape
        )
        frames.append(
            _reads_frame(
                names, "junior", "aided", cases, aided, aided_threshold, times, config.ratings
            )
        )

    reads = pd.concat(frames, ignore_index=True).merge(cases, on="case", how="left")
    reads = reads.loc[:, [*READ_COLUMNS, *([READER_RATING_COLUMN] if config.ratings else [])]]
    blinded = _blinded_trial(config, rng, cases, readers, own, reads)
    qualitative = _qualitative(config, rng, qualitative_cases)
    return StudyData(
        title=title, reads=reads, cases=cases, blinded=blinded, qualitative=qualitative
    )


def _blinded_trial(
    config: SimulationConfig,
    rng: np.random.Generator,
    cases: pd.DataFrame,
    readers: dict[str, list[str]],
    own: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    reads: pd.DataFrame,
) -> pd.DataFrame:
    seniors = readers.get("senior", [])
    juniors = readers.get("junior", [])
    if not seniors or not juniors or "senior" not in own:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in BLINDED_COLUMNS})
    # Juniors randomized evenly into one group per senior.
    shuffled = list(rng.permutation(juniors))
    groups = [shuffled[i :: len(seniors)] for i in range(len(seniors))]
    unaided = reads[reads["modality"].isin(["unaided", "ai"])].set_index(["reader", "case"])[
        "decision"
    ]
    case_ids = cases["case"].to_numpy()
    truth = cases["truth"].to_numpy(dtype=int)
    _, senior_threshold, _, senior_latent = own["senior"]
    n = case_ids.size
    rows = []
    for index, senior in enumerate(seniors):
        group = groups[index] or juniors
        is_ai = rng.random(n) < 0.5
        author = np.where(is_ai, AI_READER, np.array(group)[rng.integers(0, len(group), n)])
        initial = unaided.reindex(list(zip(author, case_ids, strict=True))).to_numpy(dtype=int)
        dont_know = rng.random(n) < config.dont_know_rate
        correct = rng.random(n) < (1 + config.unblinding) / 2
        true_arm = np.where(is_ai, "ai", "junior")
        other_arm = np.where(is_ai, "junior", "ai")
        guess = np.where(dont_know, "dont_know", np.where(correct, true_arm, other_arm))
        distance = senior_latent[index] - senior_threshold[index]
        own_call = (distance > 0).astype(int)
        override = (
            (own_call != initial)
            & (np.abs(distance) > config.override_margin)
            & (rng.random(n) < config.override_rate)
        )
        secondary = np.where(override, own_call, initial)
        changed = (secondary != initial).astype(int)
        times = (
            _lognormal(rng, config.secondary_time_s, n, cv=0.35) + config.change_time_s * changed
        )
        rows.append(
            pd.DataFrame(
                {
                    "senior": senior,
                    "author": author,
                    "case": case_ids,
                    "truth": truth,
                    "arm": true_arm,
                    "guess": guess,
                    "initial_decision": initial,
                    "secondary_decision": secondary,
                    "changed": changed,
                    "read_time_s": np.round(times, 1),
                }
            )
        )
    return pd.concat(rows, ignore_index=True).loc[:, list(BLINDED_COLUMNS)]


def _qualitative(
    config: SimulationConfig, rng: np.random.Generator, case_ids: list[str] | None
) -> pd.DataFrame:
    if case_ids is None:
        case_ids = [f"BS{i:04d}" for i in range(1, config.blind_sweep_cases + 1)]
    if not case_ids:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in QUALITATIVE_COLUMNS})
    quality = rng.normal(0.0, 0.7, len(case_ids))
    base = {
        "view_correctness": 4.2,
        "detection_accuracy": 3.9,
        "anatomical_recognition": 4.0,
        "clinical_value": 3.7,
    }
    rows = []
    for rater, bias in (("R1", 0.0), ("R2", -0.2)):
        for criterion in QUALITATIVE_CRITERIA:
            score = base[criterion] + quality + bias + rng.normal(0.0, 0.5, len(case_ids))
            rows.append(
                pd.DataFrame(
                    {
                        "rater": rater,
                        "case": case_ids,
                        "criterion": criterion,
                        "score": np.clip(np.round(score), 1, 5).astype(int),
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


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
