"""Obuchowski–Rockette MRMC analysis of a split-plot study (pure: no Django).

The split-plot layout that Obuchowski, Gallas & Hillis (2012) and MRMCaov call
"split-plot-c": readers and cases are split into the same number of blocks; every reader
reads every case of his block, and only those, in every modality. Cases of different
blocks are independent samples, so two readers of different blocks share no case and
their figures of merit have zero case-sampling covariance.

The OR model is unchanged; only the covariances are estimated per block (the jackknife,
DeLong or unbiased estimator over the block's own cases) and averaged over *all* reader
pairs, the pairs of different blocks counting with covariance 0. With these averages the
expected mean squares keep their fully crossed form (E MS(T×R) = σ²_TR + Var − Cov1 −
Cov2 + Cov3; Var(mean difference) = 2/R · [σ²_TR + Var − Cov1 + (R − 1)(Cov2 − Cov3)]),
so the F statistic, Hillis' denominator df and the CI are those of the fully crossed
analysis with the split-plot averages; with one block the analysis *is* the fully
crossed one (:func:`analysis.stats.mrmc.mrmc_or`).

With one reader per block the layout is MRMCaov's "cases nested within readers"; the
test statistic, df, p value and CI then equal MRMCaov's. MRMCaov jackknifes over all
cases of the study (a reader's figure unchanged when another block's case is left out),
this module over the block's own cases: Var and Cov1 differ slightly (0.7 % on Van Dyke),
the F test does not (its denominator is MS(T×R) there).

References
----------
Obuchowski NA, Gallas BD, Hillis SL. Multi-reader ROC studies with split-plot designs:
a comparison of statistical methods. Acad Radiol 2012;19:1508–1517.
Obuchowski NA, Rockette HE. Commun Stat Simul Comput 1995;24:285–308.
Hillis SL. A comparison of denominator degrees of freedom methods for multiple observer
ROC analysis. Stat Med 2007;26:596–619.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from analysis.stats._checks import both_classes, check_level
from analysis.stats.hillis import f_test_pvalue as _f_test
from analysis.stats.hillis import hillis_ddf
from analysis.stats.mrmc.design import _validate_options
from analysis.stats.mrmc.figures import _covariance, _figures
from analysis.stats.results import ConfidenceInterval, MRMCResult

__all__ = [
    "SplitPlotLayout",
    "mrmc_or_split_plot",
    "mrmc_or_split_plot_arrays",
    "split_plot_layout",
]

_COLUMNS = ("reader", "modality", "case", "truth", "rating")


@dataclass(frozen=True)
class SplitPlotLayout:
    """Which readers and cases form each block (blocks ordered by their first reader)."""

    readers: tuple[tuple[Any, ...], ...]
    cases: tuple[tuple[Any, ...], ...]

    @property
    def blocks(self) -> int:
        return len(self.readers)

    @property
    def design(self) -> str:
        """``fully crossed`` (one block) or ``split-plot-c``."""
        return "fully crossed" if self.blocks == 1 else "split-plot-c"

    def describe(self) -> str:
        """One line naming the design and its blocks (readers × cases per block)."""
        if self.blocks == 1:
            return f"fully crossed: {len(self.readers[0])} readers × {len(self.cases[0])} cases"
        sizes = ", ".join(
            f"{len(r)} × {len(c)}" for r, c in zip(self.readers, self.cases, strict=True)
        )
        return (
            f"split-plot-c: readers nested in {self.blocks} case blocks "
            f"(readers × cases per block: {sizes})"
        )


def _check_frame(data: Any) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in _COLUMNS if c not in data.columns]
    if missing:
        raise ValueError(f"data lacks columns {missing}; needs {list(_COLUMNS)}")
    if data.empty:
        raise ValueError("data is empty")
    frame = data.loc[:, list(_COLUMNS)]
    if frame.isna().any().any():
        raise ValueError(
            f"data has missing values in {[c for c in _COLUMNS if frame[c].isna().any()]}"
        )
    if frame.duplicated(["reader", "modality", "case"]).any():
        raise ValueError("a (modality, reader, case) combination occurs more than once")
    return frame


def split_plot_layout(data: Any) -> SplitPlotLayout:
    """The blocks of a long-format frame: readers with the same case set form a block.

    Raises ``ValueError`` unless the layout is split-plot (or fully crossed): case sets of
    different blocks disjoint, and every reader rating each of his cases in every modality.
    """
    frame = _check_frame(data)
    modalities = frame["modality"].nunique()
    per_reader = frame.groupby("reader")
    groups: dict[frozenset[Any], list[Any]] = {}
    for reader, rows in per_reader:
        counts = rows.groupby("case")["modality"].nunique()
        if (counts != modalities).any():
            raise ValueError(
                f"reader {reader!r} did not rate every one of his cases in all {modalities} "
                "modalities"
            )
        groups.setdefault(frozenset(counts.index), []).append(reader)
    seen: set[Any] = set()
    for cases in groups:
        if seen & cases:
            raise ValueError(
                "readers' case sets overlap without being equal: the layout is neither fully "
                "crossed nor split-plot"
            )
        seen |= cases
    ordered = sorted(groups.items(), key=lambda item: min(str(r) for r in item[1]))
    return SplitPlotLayout(
        readers=tuple(tuple(sorted(r, key=str)) for _, r in ordered),
        cases=tuple(tuple(sorted(c, key=str)) for c, _ in ordered),
    )


def mrmc_or_split_plot(
    data: Any,
    covariance: str = "jackknife",
    endpoint: str = "auc",
    threshold: float | None = None,
    level: float = 0.95,
) -> MRMCResult:
    """OR analysis (random readers, random cases, Hillis df) of a split-plot-c study.

    Parameters
    ----------
    data : pandas.DataFrame
        Long format ``reader, modality, case, truth, rating``; the blocks are found from
        it (:func:`split_plot_layout`).
    covariance, endpoint, threshold, level
        As for :func:`analysis.stats.mrmc.mrmc_or`.

    Returns
    -------
    MRMCResult
        As :func:`~analysis.stats.mrmc.mrmc_or` gives it (``difference`` = first − second
        modality in sorted order); ``cov2``/``cov3`` are averages over all reader pairs
        (pairs of different blocks count 0) and ``method`` names the design analysed.
    """
    level = check_level(level)
    _validate_options(covariance, "random", "random", endpoint, threshold)
    frame = _check_frame(data)
    layout = split_plot_layout(frame)
    modalities = tuple(sorted(pd.unique(frame["modality"])))
    readers = tuple(r for block in layout.readers for r in block)
    cases = tuple(c for block in layout.cases for c in block)
    truth_by_case = frame.drop_duplicates("case").set_index("case")["truth"]
    if frame.groupby("case")["truth"].nunique().max() > 1:
        raise ValueError("truth differs between rows of the same case")
    truth_values = truth_by_case.reindex(list(cases)).to_numpy(dtype=np.float64)
    if not np.isin(truth_values, (0.0, 1.0)).all():
        raise ValueError("truth must hold only 0 and 1")
    try:
        rating = frame["rating"].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"rating must be numeric: {exc}") from exc
    ratings = np.full((len(modalities), len(readers), len(cases)), np.nan)
    m_index = {m: i for i, m in enumerate(modalities)}
    r_index = {r: i for i, r in enumerate(readers)}
    c_index = {c: i for i, c in enumerate(cases)}
    ratings[
        frame["modality"].map(m_index).to_numpy(),
        frame["reader"].map(r_index).to_numpy(),
        frame["case"].map(c_index).to_numpy(),
    ] = rating
    reader_block = np.repeat(np.arange(layout.blocks), [len(b) for b in layout.readers])
    case_block = np.repeat(np.arange(layout.blocks), [len(b) for b in layout.cases])
    return _split_plot_analysis(
        ratings,
        truth_values == 1.0,
        reader_block,
        case_block,
        modalities,
        readers,
        covariance,
        endpoint,
        threshold,
        level,
        layout.describe(),
    )


def mrmc_or_split_plot_arrays(
    ratings: NDArray[np.float64],
    truth: NDArray[np.bool_],
    reader_block: NDArray[np.int_],
    case_block: NDArray[np.int_],
    covariance: str = "jackknife",
    endpoint: str = "auc",
    threshold: float | None = None,
    level: float = 0.95,
) -> MRMCResult:
    """:func:`mrmc_or_split_plot` of a ratings array (modality × reader × case).

    Only the cells of a reader's own block (``reader_block[j] == case_block[k]``) are used;
    the others may hold anything (NaN). For simulations; modalities and readers are
    numbered from 0.
    """
    level = check_level(level)
    _validate_options(covariance, "random", "random", endpoint, threshold)
    values = np.asarray(ratings, dtype=np.float64)
    labels = np.asarray(truth, dtype=bool)
    r_block, c_block = np.asarray(reader_block), np.asarray(case_block)
    if values.ndim != 3 or labels.shape != (values.shape[2],):
        raise ValueError("ratings must be modality x reader x case and truth one value per case")
    if r_block.shape != (values.shape[1],) or c_block.shape != (values.shape[2],):
        raise ValueError("reader_block needs one block per reader and case_block one per case")
    description = f"split-plot-c: readers nested in {np.unique(r_block).size} case blocks"
    return _split_plot_analysis(
        values,
        labels,
        r_block,
        c_block,
        tuple(range(values.shape[0])),
        tuple(range(values.shape[1])),
        covariance,
        endpoint,
        threshold,
        level,
        description,
    )


def _split_plot_analysis(
    ratings: NDArray[np.float64],
    truth: NDArray[np.bool_],
    reader_block: NDArray[np.int_],
    case_block: NDArray[np.int_],
    modalities: tuple[Any, ...],
    readers: tuple[Any, ...],
    covariance: str,
    endpoint: str,
    threshold: float | None,
    level: float,
    description: str,
) -> MRMCResult:
    t, r, _ = ratings.shape
    if t < 2:
        raise ValueError("the split-plot analysis needs at least two modalities")
    if r < 2:
        raise ValueError("random readers need at least two readers")
    blocks = np.unique(reader_block)
    if not np.array_equal(blocks, np.unique(case_block)):
        raise ValueError("every block needs readers and cases")
    theta = np.empty((t, r))
    # Sums of the case-sampling covariances by kind: Var, Cov1 (same reader), Cov2 (same
    # modality, two readers of one block), Cov3 (both differ, one block).
    sums = dict.fromkeys(("var", "cov1", "cov2", "cov3"), 0.0)
    n_cases = 0
    for block in blocks:
        members = np.flatnonzero(reader_block == block)
        own = np.flatnonzero(case_block == block)
        labels = truth[own]
        both_classes(labels, f"truth of block {block}")
        part = ratings[:, members][:, :, own]
        if not np.all(np.isfinite(part)):
            raise ValueError(f"ratings of block {block} contain NaN or infinite values")
        rows = part.reshape(t * members.size, own.size)
        figures = _figures(rows, labels, endpoint, threshold)
        theta[:, members] = figures.theta.reshape(t, members.size)
        n_cases += int(figures.leave_out.shape[1])
        cov = _covariance(rows, labels, figures, covariance).reshape(
            t, members.size, t, members.size
        )
        same_t = np.eye(t, dtype=bool)[:, None, :, None]
        same_r = np.eye(members.size, dtype=bool)[None, :, None, :]
        sums["var"] += float(cov[np.broadcast_to(same_t & same_r, cov.shape)].sum())
        sums["cov1"] += float(cov[np.broadcast_to(~same_t & same_r, cov.shape)].sum())
        sums["cov2"] += float(cov[np.broadcast_to(same_t & ~same_r, cov.shape)].sum())
        sums["cov3"] += float(cov[np.broadcast_to(~same_t & ~same_r, cov.shape)].sum())
    var = sums["var"] / (t * r)
    cov1 = sums["cov1"] / (t * (t - 1) * r)
    cov2 = sums["cov2"] / (t * r * (r - 1))
    cov3 = sums["cov3"] / (t * (t - 1) * r * (r - 1))

    grand = theta.mean()
    by_t = theta.mean(axis=1)
    by_r = theta.mean(axis=0)
    ms_t = r * np.sum((by_t - grand) ** 2) / (t - 1)
    ms_r = t * np.sum((by_r - grand) ** 2) / (r - 1)
    resid = theta - by_t[:, None] - by_r[None, :] + grand
    ms_tr = np.sum(resid**2) / ((t - 1) * (r - 1))
    var_tr = ms_tr - var + cov1 + cov2 - cov3
    var_r = (ms_r - var_tr - var - (t - 1) * cov1 + cov2 + (t - 1) * cov3) / t
    denominator = ms_tr + r * max(cov2 - cov3, 0.0)
    statistic = ms_t / denominator
    ddf = hillis_ddf(denominator, ms_tr, (t - 1) * (r - 1))
    pvalue = _f_test(statistic, t - 1, ddf)
    half = stats.t.ppf(0.5 + level / 2, ddf) * np.sqrt(2 * denominator / r)
    difference = float(by_t[0] - by_t[1])
    method = "OR RRRC, Hillis ddf" + (" (infinite: MS(T*R) = 0)" if np.isinf(ddf) else "")
    reader_auc = pd.DataFrame(
        theta.T,
        index=pd.Index(readers, name="reader"),
        columns=pd.Index(modalities, name="modality"),
    )
    return MRMCResult(
        auc={m: float(v) for m, v in zip(modalities, by_t, strict=True)},
        reader_auc=reader_auc,
        difference=difference,
        ci=ConfidenceInterval(difference - half, difference + half, level, method),
        statistic=float(statistic),
        df_num=float(t - 1),
        df_den=float(ddf),
        pvalue=pvalue,
        var_r=float(var_r),
        var_tr=float(var_tr),
        var_error=var,
        cov1=cov1,
        cov2=cov2,
        cov3=cov3,
        ms_t=float(ms_t),
        ms_r=float(ms_r),
        ms_tr=float(ms_tr),
        n_readers=r,
        n_cases=n_cases,
        modalities=modalities,
        covariance=covariance,
        readers="random",
        cases="random",
        endpoint=endpoint,
        method=(
            f"Obuchowski-Rockette ({method}; {covariance} covariance; {endpoint}; "
            f"design analysed: {description})"
        ),
    )
