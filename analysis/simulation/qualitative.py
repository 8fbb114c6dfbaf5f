"""Qualitative scores of blind sweeps: two raters × four criteria, 1–5."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.frames import QUALITATIVE_COLUMNS, QUALITATIVE_CRITERIA
from analysis.simulation.config import SimulationConfig


def qualitative_scores(
    config: SimulationConfig, rng: np.random.Generator, case_ids: list[str] | None
) -> pd.DataFrame:
    """Two raters score four criteria 1–5 per blind sweep from a per-case quality."""
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
