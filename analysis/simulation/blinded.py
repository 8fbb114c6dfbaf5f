"""The blinded source trial: seniors review juniors' or the AI's initial diagnoses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.frames import AI_READER, BLINDED_COLUMNS
from analysis.simulation.config import SimulationConfig
from analysis.simulation.readers import ReaderDraw, lognormal


def blinded_trial(
    config: SimulationConfig,
    rng: np.random.Generator,
    cases: pd.DataFrame,
    readers: dict[str, list[str]],
    own: dict[str, ReaderDraw],
    reads: pd.DataFrame,
) -> pd.DataFrame:
    """Each senior reviews every case with material from the AI or a junior of his group."""
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
    seniors_draw = own["senior"]
    rows = [
        _senior_review(
            config,
            rng,
            senior,
            groups[index] or juniors,
            cases,
            unaided,
            seniors_draw.latent[index] - seniors_draw.threshold[index],
        )
        for index, senior in enumerate(seniors)
    ]
    return pd.concat(rows, ignore_index=True).loc[:, list(BLINDED_COLUMNS)]


def _senior_review(
    config: SimulationConfig,
    rng: np.random.Generator,
    senior: str,
    group: list[str],
    cases: pd.DataFrame,
    unaided: pd.Series,
    distance: np.ndarray,
) -> pd.DataFrame:
    """One senior's rows: the material's author, his source guess, kept or overridden call.

    ``distance``: his own latent values minus his threshold, per case.
    """
    case_ids = cases["case"].to_numpy()
    truth = cases["truth"].to_numpy(dtype=int)
    n = case_ids.size
    is_ai = rng.random(n) < 0.5
    author = np.where(is_ai, AI_READER, np.array(group)[rng.integers(0, len(group), n)])
    initial = unaided.reindex(list(zip(author, case_ids, strict=True))).to_numpy(dtype=int)
    dont_know = rng.random(n) < config.dont_know_rate
    correct = rng.random(n) < (1 + config.unblinding) / 2
    true_arm = np.where(is_ai, "ai", "junior")
    other_arm = np.where(is_ai, "junior", "ai")
    guess = np.where(dont_know, "dont_know", np.where(correct, true_arm, other_arm))
    own_call = (distance > 0).astype(int)
    override = (
        (own_call != initial)
        & (np.abs(distance) > config.override_margin)
        & (rng.random(n) < config.override_rate)
    )
    secondary = np.where(override, own_call, initial)
    changed = (secondary != initial).astype(int)
    times = lognormal(rng, config.secondary_time_s, n, cv=0.35) + config.change_time_s * changed
    return pd.DataFrame(
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
