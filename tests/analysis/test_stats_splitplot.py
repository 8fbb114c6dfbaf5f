"""The split-plot OR analysis (analysis.stats.splitplot) against independent oracles.

(a) With one block the layout is fully crossed and the analysis must equal the fully
crossed OR (analysis.stats.mrmc, itself held to the published Van Dyke output: F = 4.456,
ddf = 15.26, p = 0.0517). (b) With several blocks every covariance component must be the
reader-pair-weighted average of the fully crossed OR components of each block alone
(pairs of readers of different blocks share no case: covariance 0). (c) Under the null
of a Roe–Metz model read in a split-plot layout, the test rejects at α within
Monte-Carlo error.

(d) With one reader per block the layout is MRMCaov's "cases nested within readers", whose
output the MRMCaov user guide publishes for Van Dyke: the test must match it. No
published output of a split-plot with several readers per block was found: MRMCaov (CRAN
0.3.0 and its GitHub source) implements factorial and nested designs only, and RJafroc
removed its split-plot code in 2025 (its SPLIT-PLOT-C set Cov2 = Cov3 = 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.simulation import RoeMetzConfig, simulate_roe_metz
from analysis.stats import mrmc_or
from analysis.stats.splitplot import (
    mrmc_or_split_plot,
    mrmc_or_split_plot_arrays,
    split_plot_layout,
)
from tests.analysis.helpers import vandyke_frame

FIELDS = (
    "difference",
    "statistic",
    "df_den",
    "pvalue",
    "var_r",
    "var_tr",
    "var_error",
    "cov1",
    "cov2",
    "cov3",
    "ms_t",
    "ms_r",
    "ms_tr",
)


@pytest.mark.parametrize("covariance", ["jackknife", "delong", "unbiased"])
def test_one_block_equals_the_fully_crossed_analysis(covariance):
    frame = vandyke_frame()
    crossed = mrmc_or(frame, covariance=covariance)
    split = mrmc_or_split_plot(frame, covariance=covariance)
    for field in FIELDS:
        assert getattr(split, field) == pytest.approx(getattr(crossed, field), rel=1e-12, abs=1e-15)
    assert split.ci.low == pytest.approx(crossed.ci.low, rel=1e-12)
    assert split.ci.high == pytest.approx(crossed.ci.high, rel=1e-12)
    assert split.auc == pytest.approx(crossed.auc)
    assert "fully crossed: 5 readers × 114 cases" in split.method
    if covariance == "jackknife":  # the published Van Dyke result
        assert round(split.statistic, 3) == 4.456
        assert split.df_den == pytest.approx(15.26, abs=5e-3)
        assert split.pvalue == pytest.approx(0.0517, abs=5e-5)


def _vandyke_split(blocks: dict[int, int]) -> pd.DataFrame:
    """Van Dyke cut into a split-plot layout: reader -> block, cases split by parity/3."""
    frame = vandyke_frame()
    case_block = frame["case"] % 3 if max(blocks.values()) == 2 else frame["case"] % 2
    return frame[frame["reader"].map(blocks) == case_block].reset_index(drop=True)


def test_several_blocks_average_the_blocks_fully_crossed_components():
    reader_block = {1: 0, 2: 0, 3: 0, 4: 1, 5: 1}
    frame = _vandyke_split(reader_block)
    layout = split_plot_layout(frame)
    assert layout.blocks == 2 and layout.readers == ((1, 2, 3), (4, 5))
    assert not set(layout.cases[0]) & set(layout.cases[1])
    split = mrmc_or_split_plot(frame)
    per_block = [mrmc_or(frame[frame["reader"].isin(readers)]) for readers in layout.readers]
    sizes = np.array([len(r) for r in layout.readers])
    r = sizes.sum()
    assert split.var_error == pytest.approx(
        sum(s * b.var_error for s, b in zip(sizes, per_block, strict=True)) / r
    )
    assert split.cov1 == pytest.approx(
        sum(s * b.cov1 for s, b in zip(sizes, per_block, strict=True)) / r
    )
    pairs = sizes * (sizes - 1)
    assert split.cov2 == pytest.approx(
        sum(p * b.cov2 for p, b in zip(pairs, per_block, strict=True)) / (r * (r - 1))
    )
    assert split.cov3 == pytest.approx(
        sum(p * b.cov3 for p, b in zip(pairs, per_block, strict=True)) / (r * (r - 1))
    )
    # Reader AUCs are each block's own; the test uses the pooled two-way table.
    for block, readers in zip(per_block, layout.readers, strict=True):
        for reader in readers:
            assert split.reader_auc.loc[reader, 1] == pytest.approx(block.reader_auc.loc[reader, 1])
    theta = split.reader_auc.to_numpy()
    d = theta[:, 0] - theta[:, 1]
    ms_tr = np.var(d, ddof=1) / 2
    assert split.ms_tr == pytest.approx(ms_tr)
    denominator = ms_tr + r * max(split.cov2 - split.cov3, 0)
    assert split.statistic == pytest.approx(r * d.mean() ** 2 / 2 / denominator)
    assert split.df_den == pytest.approx(denominator**2 / ms_tr**2 * (r - 1))
    assert split.n_cases == 114
    assert "split-plot-c: readers nested in 2 case blocks" in split.method
    # The same analysis from the array entry point.
    arrays = mrmc_or_split_plot_arrays(
        _full_array(vandyke_frame()),
        _truth(vandyke_frame()),
        np.array([0, 0, 0, 1, 1]),
        np.sort(vandyke_frame()["case"].unique()) % 2,
    )
    assert arrays.statistic == pytest.approx(split.statistic)
    assert arrays.pvalue == pytest.approx(split.pvalue)


def _full_array(frame: pd.DataFrame) -> np.ndarray:
    frame = frame.sort_values(["modality", "reader", "case"])
    return frame["rating"].to_numpy(float).reshape(2, 5, 114)


def _truth(frame: pd.DataFrame) -> np.ndarray:
    return frame.drop_duplicates("case").sort_values("case")["truth"].to_numpy() == 1


def test_layouts_that_are_not_split_plot_are_refused():
    frame = vandyke_frame()
    overlapping = frame[~((frame["reader"] == 1) & (frame["case"] < 10))]
    with pytest.raises(ValueError, match="overlap"):
        split_plot_layout(overlapping)
    one_modality_missing = frame[
        ~((frame["reader"] == 2) & (frame["case"] == 5) & (frame["modality"] == 1))
    ]
    with pytest.raises(ValueError, match="every one of his cases"):
        split_plot_layout(one_modality_missing)


def test_null_rejection_rate_is_alpha_on_a_split_plot_layout():
    """Roe–Metz under H0, 6 readers in 2 blocks of 3, 2 × (15 + 15) cases, 1000 studies."""
    rng = np.random.default_rng(20261203)
    studies, readers, blocks = 1000, 6, 2
    ratings, truth = simulate_roe_metz(
        RoeMetzConfig(), readers=readers, diseased=30, non_diseased=30, studies=studies, rng=rng
    )
    reader_block = np.repeat(np.arange(blocks), readers // blocks)
    case_block = np.r_[np.arange(30) % blocks, np.arange(30) % blocks]
    rejected = sum(
        mrmc_or_split_plot_arrays(ratings[s], truth, reader_block, case_block).pvalue < 0.05
        for s in range(studies)
    )
    rate = rejected / studies
    se = np.sqrt(0.05 * 0.95 / studies)
    # OR with Hillis df is known to be slightly conservative (Obuchowski et al. 2012).
    assert abs(rate - 0.05) < 3 * se, rate


def test_one_reader_per_block_gives_mrmcaovs_published_cases_nested_within_readers():
    """MRMCaov user guide (0.3.0, "Cases nested within readers": VanDyke with ``case2``).

    Published: MS(T) 0.004796171, MS(T:R) 0.0005510306, Cov2 = Cov3 = 0, F = 8.704,
    df = (1, 4), p = 0.04195875, difference 1 − 2 = −0.04380032 with 95 % CI
    (−0.08502022, −0.00258042); Error 8.079682e-04 and Cov1 3.490676e-04. MRMCaov
    jackknifes over all 570 cases (a reader's figure unchanged when another reader's case
    is left out); this module jackknifes within each block (114 cases), which gives
    Error and Cov1 0.7 % lower and leaves the test, whose denominator is MS(T:R) here,
    unchanged.
    """
    frame = vandyke_frame()
    frame["case"] = frame["reader"].astype(str) + "." + frame["case"].astype(str)
    result = mrmc_or_split_plot(frame)
    assert split_plot_layout(frame).blocks == 5
    assert result.ms_t == pytest.approx(0.004796171, rel=1e-7)
    assert result.ms_tr == pytest.approx(0.0005510306, rel=1e-7)
    assert result.cov2 == 0 and result.cov3 == 0
    assert round(result.statistic, 3) == 8.704
    assert result.df_den == pytest.approx(4)
    assert result.pvalue == pytest.approx(0.04195875, rel=1e-6)
    assert result.difference == pytest.approx(-0.04380032, rel=1e-7)
    assert result.ci.low == pytest.approx(-0.08502022, rel=1e-6)
    assert result.ci.high == pytest.approx(-0.00258042, rel=1e-5)
    assert result.var_error == pytest.approx(8.079682e-04, rel=0.01)
    assert result.cov1 == pytest.approx(3.490676e-04, rel=0.01)
    # MRMCaov's convention, recomputed: the jackknife over all 570 cases.
    from analysis.stats.mrmc.figures import _figures

    ordered = vandyke_frame().sort_values(["modality", "reader", "case"])
    ratings = ordered["rating"].to_numpy(float).reshape(2, 5, 114)
    truth = _truth(vandyke_frame())
    variances, covariances = [], []
    for reader in range(5):
        figures = _figures(ratings[:, reader, :], truth, "auc", None)
        leave_out = np.hstack([figures.leave_out, np.repeat(figures.theta[:, None], 456, axis=1)])
        centred = leave_out - leave_out.mean(axis=1, keepdims=True)
        cov = 569 / 570 * centred @ centred.T
        variances += [cov[0, 0], cov[1, 1]]
        covariances.append(cov[0, 1])
    assert np.mean(variances) == pytest.approx(8.079682e-04, rel=1e-6)
    assert np.mean(covariances) == pytest.approx(3.490676e-04, rel=1e-6)
