"""The reader simulator: seeded determinism, shapes, and the properties the demo relies on."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.frames import BLINDED_COLUMNS, QUALITATIVE_COLUMNS, READ_COLUMNS
from analysis.simulation import SimulationConfig, simulate_study
from analysis.stats import roc_auc

SMALL = SimulationConfig(
    datasets=(("internal", 80), ("external", 80)),
    n_junior=4,
    n_mid=3,
    n_senior=2,
    blind_sweep_cases=12,
    prevalence=0.25,
)


def _mean_auc(reads: pd.DataFrame, tier: str, modality: str) -> float:
    rows = reads[(reads["tier"] == tier) & (reads["modality"] == modality)]
    return float(np.mean([roc_auc(r["truth"], r["rating"]).auc for _, r in rows.groupby("reader")]))


def test_same_seed_same_study_other_seed_another() -> None:
    first = simulate_study(SMALL)
    again = simulate_study(SMALL)
    other = simulate_study(SimulationConfig(**{**SMALL.__dict__, "seed": 1}))
    pd.testing.assert_frame_equal(first.reads, again.reads)
    pd.testing.assert_frame_equal(first.blinded, again.blinded)
    pd.testing.assert_frame_equal(first.qualitative, again.qualitative)
    assert first.snapshot == again.snapshot
    assert first.snapshot != other.snapshot


def test_shapes_and_value_ranges() -> None:
    data = simulate_study(SMALL)
    assert tuple(data.reads.columns) == READ_COLUMNS
    assert tuple(data.blinded.columns) == BLINDED_COLUMNS
    assert tuple(data.qualitative.columns) == QUALITATIVE_COLUMNS
    counts = data.reads.groupby(["tier", "modality"])["reader"].nunique().to_dict()
    assert counts == {
        ("ai", "ai"): 1,
        ("junior", "aided"): 4,
        ("junior", "unaided"): 4,
        ("mid_level", "unaided"): 3,
    }
    assert len(data.reads) == 160 * (1 + 4 + 4 + 3)
    assert (
        data.reads["rating"].between(0, 100).all()
        and data.reads["confidence"].between(0, 100).all()
    )
    human = data.reads[data.reads["tier"] != "ai"]
    # A reader's rating agrees with his call: >= 50 when severe, <= 50 otherwise.
    assert (human.loc[human["decision"] == 1, "rating"] >= 50).all()
    assert (human.loc[human["decision"] == 0, "rating"] <= 50).all()
    # Every senior reviews every case once; the initial diagnosis is its author's call.
    assert (data.blinded.groupby("senior")["case"].nunique() == 160).all()
    assert set(data.blinded["guess"]) <= {"ai", "junior", "dont_know"}
    unaided = data.reads[data.reads["modality"].isin(["unaided", "ai"])].set_index(
        ["reader", "case"]
    )["decision"]
    initial = unaided.reindex(
        list(zip(data.blinded["author"], data.blinded["case"], strict=True))
    ).to_numpy()
    assert (initial == data.blinded["initial_decision"].to_numpy()).all()
    assert (
        data.blinded["changed"]
        == (data.blinded["initial_decision"] != data.blinded["secondary_decision"])
    ).all()
    assert len(data.qualitative) == 2 * 4 * 12 and data.qualitative["score"].between(1, 5).all()


def test_aided_juniors_beat_unaided_in_expectation() -> None:
    gains = []
    for seed in range(6):
        data = simulate_study(SimulationConfig(**{**SMALL.__dict__, "seed": seed}))
        gains.append(
            _mean_auc(data.reads, "junior", "aided") - _mean_auc(data.reads, "junior", "unaided")
        )
    assert np.mean(gains) > 0.03
    assert sum(g > 0 for g in gains) >= 5


def test_tiers_are_ordered_by_skill() -> None:
    data = simulate_study(SimulationConfig(seed=3))
    junior = _mean_auc(data.reads, "junior", "unaided")
    mid = _mean_auc(data.reads, "mid_level", "unaided")
    assert junior < mid < _mean_auc(data.reads, "ai", "ai")


def test_given_cases_and_readers_are_used() -> None:
    cases = pd.DataFrame(
        {
            "case": ["a", "b", "c", "d"],
            "dataset": "x",
            "truth": [0, 1, 0, 1],
            "condition": ["normal", "pvl", "normal", "ivh_3"],
            "probe_type": "linear",
            "ga_weeks": [30, 31, 32, 33],
        }
    )
    data = simulate_study(
        SMALL,
        cases=cases,
        qualitative_cases=["s1"],
        readers={"junior": ["ann", "bob"], "mid_level": ["cy"], "senior": ["dee"]},
    )
    assert set(data.reads["case"]) == {"a", "b", "c", "d"}
    assert set(data.reads["reader"]) == {"ann", "bob", "cy", "AI"}
    assert set(data.blinded["senior"]) == {"dee"} and set(data.qualitative["case"]) == {"s1"}
