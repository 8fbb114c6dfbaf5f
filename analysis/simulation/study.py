"""A whole simulated study: unaided, aided and AI reads, blinded trial, qualitative scores."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.frames import CASE_COLUMNS, READ_COLUMNS, READER_RATING_COLUMN, StudyData
from analysis.simulation.blinded import blinded_trial
from analysis.simulation.cases import simulate_cases
from analysis.simulation.config import SimulationConfig
from analysis.simulation.qualitative import qualitative_scores
from analysis.simulation.readers import (
    CaseEffects,
    ReaderDraw,
    ai_reads,
    aided_reads,
    draw_tier,
    lognormal,
    reads_frame,
)


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
        readers = _default_readers(config)
    truth = cases["truth"].to_numpy(dtype=int)
    sign = np.where(truth == 1, -1.0, 1.0)
    difficulty = rng.normal(0.0, config.case_difficulty_sd, truth.size)
    effects = CaseEffects(truth=truth, shared=sign * difficulty)
    ai_latent, ai_frame = ai_reads(config, rng, cases, effects)
    frames = [ai_frame]
    own: dict[str, ReaderDraw] = {}
    for tier in ("junior", "mid_level", "senior"):
        names = readers.get(tier, [])
        if not names:
            continue
        draw = own[tier] = draw_tier(config, rng, tier, len(names), effects)
        if tier == "senior":
            continue  # seniors read in the blinded trial only
        times = lognormal(rng, config.skills[tier].read_time_s, draw.latent.shape)
        frames.append(
            reads_frame(
                names, tier, "unaided", cases, draw.latent, draw.threshold, times, config.ratings
            )
        )
    if "junior" in own:
        frames.append(
            aided_reads(config, rng, readers["junior"], cases, effects, own["junior"], ai_latent)
        )
    reads = pd.concat(frames, ignore_index=True).merge(cases, on="case", how="left")
    reads = reads.loc[:, [*READ_COLUMNS, *([READER_RATING_COLUMN] if config.ratings else [])]]
    blinded = blinded_trial(config, rng, cases, readers, own, reads)
    qualitative = qualitative_scores(config, rng, qualitative_cases)
    return StudyData(
        title=title, reads=reads, cases=cases, blinded=blinded, qualitative=qualitative
    )


def _default_readers(config: SimulationConfig) -> dict[str, list[str]]:
    """J01…, M01…, S01… in the configured numbers."""
    return {
        "junior": [f"J{i:02d}" for i in range(1, config.n_junior + 1)],
        "mid_level": [f"M{i:02d}" for i in range(1, config.n_mid + 1)],
        "senior": [f"S{i:02d}" for i in range(1, config.n_senior + 1)],
    }
