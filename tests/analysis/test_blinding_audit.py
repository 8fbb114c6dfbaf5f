"""The blinding audit finds a planted cue and finds none where there is none."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.blinding_audit import (
    _IMAGE_FEATURE_NAMES,
    MaterialObservation,
    blinding_audit,
    image_features,
    png_chunks,
)
from trials.media import render_view

VIEWS = ("AHV", "TVV")


def _fan(seed: int, brightness: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frame = np.zeros((300, 400, 3), np.uint8)
    yy, xx = np.mgrid[:300, :400]
    fan = (
        ((xx - 200) ** 2 + (yy + 40) ** 2 < 320**2)
        & (np.abs(xx - 200) < 0.8 * (yy + 40))
        & (yy > 10)
    )
    speckle = np.clip(rng.rayleigh(40 * brightness, size=(300, 400)), 0, 255).astype(np.uint8)
    frame[fan] = speckle[fan, None]
    return frame


def _observation(
    source: str, seed: int, *, brightness: float = 1.0, position: float | None = None
) -> MaterialObservation:
    rng = np.random.default_rng(seed + 1000)
    return MaterialObservation(
        source=source,
        images={v: render_view(_fan(seed * 7 + i, brightness)).data for i, v in enumerate(VIEWS)},
        frame_positions={
            v: position if position is not None else float(rng.uniform(0.2, 0.8)) for v in VIEWS
        },
        missing_views=0,
        latency_ms=float(rng.normal(20, 3)),
    )


def test_feature_names_match_the_extractor():
    data = render_view(_fan(1)).data
    assert tuple(image_features(data)) == _IMAGE_FEATURE_NAMES
    assert png_chunks(data)[0] == "IHDR" and png_chunks(data)[-1] == "IEND"


def test_same_process_gives_an_auc_compatible_with_half():
    observations = [_observation("ai" if i % 2 else "junior", i) for i in range(40)]
    result = blinding_audit(observations, VIEWS, seed=1)
    assert result.ci.low <= 0.5 <= result.ci.high
    assert not result.distinguishable and result.warning == ""


def test_a_planted_cue_is_found_and_named():
    observations = [
        _observation("ai", i, position=0.5) if i % 2 else _observation("junior", i, position=0.3)
        for i in range(40)
    ]
    result = blinding_audit(observations, VIEWS, seed=1)
    assert result.distinguishable and result.auc > 0.9
    assert "frame_position" in result.warning


def test_too_few_materials_are_refused():
    with pytest.raises(ValueError, match="at least 5"):
        blinding_audit([_observation("ai", i) for i in range(6)], VIEWS)


def test_grouping_by_case_keeps_case_looks_from_passing_for_source_cues():
    """Cases differ in brightness far more than sources do; grouped by case, the audit
    sees no source cue where there is none (both sources of a case share its look)."""
    observations = []
    for case in range(24):
        brightness = 0.6 + 0.05 * case
        for source in ("ai", "junior"):
            base = _observation(source, case, brightness=brightness, position=0.5)
            observations.append(
                MaterialObservation(
                    source=base.source,
                    images=base.images,
                    frame_positions=base.frame_positions,
                    missing_views=0,
                    latency_ms=20.0,
                    group=f"case{case}",
                )
            )
    grouped = blinding_audit(observations, VIEWS, seed=2)
    assert grouped.ci.low <= 0.5 <= grouped.ci.high


def test_given_the_seeds_the_audit_is_a_function_of_the_features():
    """Runs on the same features agree exactly, whatever the threads: run-to-run differences
    can only come from features that differ (the measured latency)."""
    observations = [_observation("ai" if i % 2 else "junior", i) for i in range(30)]
    one = blinding_audit(observations, VIEWS, seed=4, n_seeds=2, n_jobs=1)
    two = blinding_audit(observations, VIEWS, seed=4, n_seeds=2, n_jobs=2)
    other_seeds = blinding_audit(observations, VIEWS, seed=40, n_seeds=2, n_jobs=1)
    assert one.auc == two.auc and one.seed_auc_range == two.seed_auc_range
    assert other_seeds.seed_auc_range != one.seed_auc_range  # the seeds do matter


def test_latency_grid_hides_measurement_noise_and_keeps_a_real_difference():
    from analysis.blinding import _at_repeatability

    rng = np.random.default_rng(5)

    def timings(shift_ms: float) -> dict[object, list[float]]:
        # one load's spread 2 ms; five rounds; odd materials are the AI's
        return {
            i: list(50.0 + (shift_ms if i % 2 else 0.0) + rng.normal(0, 2, 5)) for i in range(60)
        }

    first, second = _at_repeatability(timings(0.0), 5), _at_repeatability(timings(0.0), 5)
    assert set(first.values()) == {0.0} and first == second
    # The step is 6 standard errors of a median of 5: 6 × 1.2533 × 2 / √5 ≈ 6.7 ms; the
    # sources 10 ms apart sit ±5 ms (±0.75 step) from the middle: one step apart.
    shifted = _at_repeatability(timings(10.0), 5)
    ai = [v for i, v in shifted.items() if i % 2]
    junior = [v for i, v in shifted.items() if not i % 2]
    assert np.mean(ai) - np.mean(junior) >= 1.5
