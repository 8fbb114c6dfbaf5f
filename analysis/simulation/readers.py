"""The reader model: latent decision values of the AI and of each tier's readers, and the
reads (decision, confidence, rating, time) they give."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from analysis.frames import AI_READER, READER_RATING_COLUMN
from analysis.simulation.config import SimulationConfig


@dataclass(frozen=True)
class CaseEffects:
    """What every reader of a case shares: its truth and its signed difficulty."""

    truth: np.ndarray  # 0/1 per case
    shared: np.ndarray  # s_c·d_c: a difficult case looks like the other class

    def latent(self, separation: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """Readers × cases latent values for per-reader separations and reader × case noise."""
        return self.truth[None, :] * separation[:, None] + self.shared[None, :] + noise


@dataclass(frozen=True)
class ReaderDraw:
    """One tier's drawn readers: skill, threshold, own noise and latent values (readers × cases)."""

    separation: np.ndarray
    threshold: np.ndarray
    noise: np.ndarray
    latent: np.ndarray


def lognormal(
    rng: np.random.Generator, mean: float, size: int | tuple[int, ...], cv: float = 0.4
) -> np.ndarray:
    """Log-normal draws (read times) with the given mean and coefficient of variation."""
    sigma = np.sqrt(np.log1p(cv**2))
    return rng.lognormal(np.log(mean) - sigma**2 / 2, sigma, size=size)


def _confidence(distance: np.ndarray) -> np.ndarray:
    """Confidence 0–100 of a call from the latent value's distance to the threshold."""
    # 0 at the threshold, towards 100 far from it.
    return np.round(100 * (2 * stats.norm.cdf(np.abs(distance)) - 1)).astype(int)


def latent_rating(distance: np.ndarray) -> np.ndarray:
    """A simulated reader's rating 0–100 of his latent value's distance from his threshold
    (integers, increasing with the latent value: ``round(100·Φ(distance))``)."""
    return np.round(100 * stats.norm.cdf(distance)).astype(int)


def reads_frame(
    readers: list[str],
    tier: str,
    modality: str,
    cases: pd.DataFrame,
    latent: np.ndarray,
    threshold: np.ndarray,
    times: np.ndarray,
    ratings: bool = False,
) -> pd.DataFrame:
    """Long-format reads of some readers of one tier and modality (one row per reader × case)."""
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


def ai_reads(
    config: SimulationConfig,
    rng: np.random.Generator,
    cases: pd.DataFrame,
    effects: CaseEffects,
) -> tuple[np.ndarray, pd.DataFrame]:
    """The AI as one more reader with a probability: its latent values and its reads."""
    n_cases = effects.truth.size
    ai_latent = (
        effects.truth * config.ai_separation + effects.shared + rng.normal(0.0, 1.0, n_cases)
    )
    ai_probability = special.expit(1.7 * (ai_latent - config.ai_separation / 2))
    frame = pd.DataFrame(
        {
            "reader": AI_READER,
            "tier": "ai",
            "modality": "ai",
            "case": cases["case"].to_numpy(),
            "rating": np.round(100 * ai_probability, 4),
            "decision": (ai_probability >= config.ai_threshold).astype(int),
            "confidence": np.round(100 * np.abs(2 * ai_probability - 1)).astype(int),
            "read_time_s": np.round(lognormal(rng, config.ai_read_time_s, n_cases, cv=0.15), 1),
        }
    )
    return ai_latent, frame


def draw_tier(
    config: SimulationConfig, rng: np.random.Generator, tier: str, count: int, effects: CaseEffects
) -> ReaderDraw:
    """Readers of a tier: skill around the tier's mean, own threshold and noise."""
    skill = config.skills[tier]
    separation = np.maximum(rng.normal(skill.separation, skill.separation_sd, count), 0.2)
    threshold = separation / 2 + skill.threshold_offset + rng.normal(0.0, 0.25, count)
    noise = rng.normal(0.0, 1.0, (count, effects.truth.size))
    return ReaderDraw(separation, threshold, noise, effects.latent(separation, noise))


def aided_reads(
    config: SimulationConfig,
    rng: np.random.Generator,
    names: list[str],
    cases: pd.DataFrame,
    effects: CaseEffects,
    juniors: ReaderDraw,
    ai_latent: np.ndarray,
) -> pd.DataFrame:
    """Juniors' AI-assisted re-reads: own noise partly renewed, leaning on the AI's value."""
    rho = config.reread_correlation
    noise = juniors.noise
    renoise = rho * noise + np.sqrt(1 - rho**2) * rng.normal(0.0, 1.0, noise.shape)
    weight = rng.uniform(*config.ai_weight, len(names))[:, None]
    aided = (1 - weight) * effects.latent(juniors.separation, renoise) + weight * ai_latent[None, :]
    aided_threshold = (1 - weight[:, 0]) * juniors.threshold + weight[
        :, 0
    ] * config.ai_separation / 2
    times = lognormal(
        rng, config.skills["junior"].read_time_s * config.aided_time_factor, aided.shape
    )
    return reads_frame(
        names, "junior", "aided", cases, aided, aided_threshold, times, config.ratings
    )
