"""Simulated cases: truth at a prevalence, gold-standard condition, probe, gestational age."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.frames import CASE_COLUMNS

_SEVERE_CONDITIONS = (("ivh_3", 0.35), ("ivh_4", 0.25), ("pvl", 0.2), ("hydrocephalus", 0.2))
_MILD_CONDITIONS = (
    ("normal", 0.6),
    ("ivh_1", 0.12),
    ("ivh_2", 0.1),
    ("ependymal_cyst", 0.1),
    ("ventricular_dilation", 0.08),
)
_PROBES = (("microconvex", 0.6), ("linear", 0.25), ("phased", 0.15))


def _choice(
    rng: np.random.Generator, options: tuple[tuple[str, float], ...], size: int
) -> np.ndarray:
    """``size`` names drawn from weighted options."""
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
