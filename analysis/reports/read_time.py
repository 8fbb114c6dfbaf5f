"""Read time: the readers' standalone seconds per case against the AI's, per tier, and
the juniors' time aided vs unaided.

A reader's time is the active seconds of his read; the AI's the seconds its run measured
for the case (``AICaseResult.read_time_s``). Reads of one reader are not independent, so
the unit of the comparison with the AI is the case: a tier's time for a case is the mean
over its readers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.frames import GROUPS, StudyData, group_reads
from analysis.reports._common import COLORS, GROUP_LABELS, counts
from analysis.reports._common import gettext_noop as _
from analysis.reports.base import Report, ReportFigure, ReportTable
from analysis.stats import mann_whitney, welch_t, wilcoxon_signed_rank

GROUP_METHODS = _(
    "Seconds per read by reader group (readers' active reading time; the AI's time measured by "
    "its run for each case): mean, SD, median and quartiles (linear interpolation, R type 7)."
)
VS_AI_METHODS = _(
    "Each reader group against the AI on the cases both read, the case as the unit: the "
    "group's time for a case is the mean over its readers. Two-sided Mann-Whitney U test of "
    "the per-case times (exact p below 50 cases per group without ties, else the normal "
    "approximation with continuity correction) and two-sided Welch t test (unequal "
    "variances); mean difference = group - AI."
)
AIDED_METHODS = _(
    "Each junior reader's time with the AI (aided) against his own time alone (unaided) on "
    "the cases he read in both sessions: two-sided paired Wilcoxon signed-rank test over the "
    "cases (exact p below 50 pairs without ties or zeros, else the normal approximation with "
    "continuity correction); the row 'all readers' tests the readers' mean times, one pair "
    "per reader (exact p). Median difference = aided - unaided."
)


def read_time_report(data: StudyData) -> Report:
    """Read times by reader group, each group vs the AI, and aided vs unaided per reader."""
    reads = data.reads
    reads = reads[pd.to_numeric(reads["read_time_s"], errors="coerce").notna()]
    notes: list[str] = []
    tables: list[ReportTable] = []
    figures: list[ReportFigure] = []
    groups = {key: group_reads(reads, key) for key, _tier, _modality in GROUPS}
    groups = {key: rows for key, rows in groups.items() if not rows.empty}
    if not groups:
        notes.append(_("No read times yet."))
    else:
        tables.append(
            ReportTable(
                "by_group",
                _("Seconds per case by reader group"),
                _by_group(groups),
                GROUP_METHODS,
                f"{len(reads)} timed reads",
            )
        )
        if "ai" not in groups:
            notes.append(
                _(
                    "The AI's time per case is not recorded for this study's AI run; "
                    "the comparison with the AI is left out."
                )
            )
        else:
            frame = _vs_ai(groups, notes)
            if not frame.empty:
                tables.append(
                    ReportTable(
                        "vs_ai",
                        _("Readers' time per case against the AI's"),
                        frame,
                        VS_AI_METHODS,
                        f"{int(frame['cases'].max())} cases at most",
                    )
                )
        aided = _aided(reads, notes)
        if not aided.empty:
            tables.append(
                ReportTable(
                    "aided_vs_unaided",
                    _("Junior readers' time aided vs unaided"),
                    aided,
                    AIDED_METHODS,
                    f"{len(aided) - 1} junior readers",
                )
            )
        figures.append(
            ReportFigure("read_times", _("Seconds per read by reader group"), _figure(groups))
        )
    return Report(
        key="read_time",
        title=_("Read time"),
        tables=tuple(tables),
        figures=tuple(figures),
        methods=" ".join((GROUP_METHODS, VS_AI_METHODS, AIDED_METHODS)),
        n=counts(data),
        snapshot=data.snapshot,
        notes=tuple(notes),
    )


def _quartiles(values: np.ndarray) -> tuple[float, float, float]:
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return float(median), float(q1), float(q3)


def _by_group(groups: dict[str, pd.DataFrame]) -> pd.DataFrame:
    rows = []
    for key, part in groups.items():
        seconds = part["read_time_s"].to_numpy(dtype=float)
        median, q1, q3 = _quartiles(seconds)
        rows.append(
            {
                "group": key,
                "readers": int(part["reader"].nunique()),
                "cases": int(part["case"].nunique()),
                "reads": int(seconds.size),
                "mean_s": float(seconds.mean()),
                "sd_s": float(seconds.std(ddof=1)) if seconds.size > 1 else np.nan,
                "median_s": median,
                "q1_s": q1,
                "q3_s": q3,
            }
        )
    return pd.DataFrame(rows)


def _per_case(rows: pd.DataFrame) -> pd.Series:
    return rows.groupby("case")["read_time_s"].mean()


def _vs_ai(groups: dict[str, pd.DataFrame], notes: list[str]) -> pd.DataFrame:
    ai = _per_case(groups["ai"])
    rows: list[dict[str, Any]] = []
    for key in groups:
        if key == "ai":
            continue
        own = _per_case(groups[key])
        shared = own.index.intersection(ai.index)
        if shared.size < 2:
            notes.append(f"{key}: fewer than two cases timed for both the group and the AI")
            continue
        x, y = own[shared].to_numpy(dtype=float), ai[shared].to_numpy(dtype=float)
        row: dict[str, Any] = {
            "group": key,
            "cases": int(shared.size),
            "group_mean_s": float(x.mean()),
            "ai_mean_s": float(y.mean()),
            "group_median_s": float(np.median(x)),
            "ai_median_s": float(np.median(y)),
            "mean_difference": float(x.mean() - y.mean()),
        }
        try:
            u = mann_whitney(x, y)
            row |= {"mann_whitney_u": u.statistic, "pvalue_mann_whitney": u.pvalue}
        except ValueError as exc:
            notes.append(f"{key}: Mann-Whitney U: {exc}")
            row |= {"mann_whitney_u": np.nan, "pvalue_mann_whitney": np.nan}
        try:
            t = welch_t(x, y)
            row |= {"welch_t": t.statistic, "df": t.df, "pvalue_welch": t.pvalue}
        except ValueError as exc:
            notes.append(f"{key}: Welch t: {exc}")
            row |= {"welch_t": np.nan, "df": np.nan, "pvalue_welch": np.nan}
        rows.append(row)
    return pd.DataFrame(rows)


def _aided(reads: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    juniors = reads[reads["tier"] == "junior"]
    unaided = (
        juniors[juniors["modality"] == "unaided"].groupby(["reader", "case"])["read_time_s"].mean()
    )
    aided = (
        juniors[juniors["modality"] == "aided"].groupby(["reader", "case"])["read_time_s"].mean()
    )
    paired = pd.concat({"unaided": unaided, "aided": aided}, axis=1).dropna()
    rows: list[dict[str, Any]] = []
    means = []
    for reader, part in paired.groupby(level="reader"):
        difference = (part["aided"] - part["unaided"]).to_numpy(dtype=float)
        row: dict[str, Any] = {
            "reader": str(reader),
            "cases": len(part),
            "unaided_mean_s": float(part["unaided"].mean()),
            "aided_mean_s": float(part["aided"].mean()),
            "median_difference": float(np.median(difference)),
        }
        row |= _wilcoxon(difference, f"{reader}", notes)
        rows.append(row)
        means.append((row["unaided_mean_s"], row["aided_mean_s"]))
    if not rows:
        return pd.DataFrame()
    pairs = np.asarray(means, dtype=float)
    difference = pairs[:, 1] - pairs[:, 0]
    summary: dict[str, Any] = {
        "reader": "all readers",
        "cases": int(paired.index.get_level_values("case").nunique()),
        "unaided_mean_s": float(pairs[:, 0].mean()),
        "aided_mean_s": float(pairs[:, 1].mean()),
        "median_difference": float(np.median(difference)),
    }
    summary |= _wilcoxon(difference, "all readers", notes)
    return pd.DataFrame([*rows, summary])


def _wilcoxon(difference: np.ndarray, label: str, notes: list[str]) -> dict[str, Any]:
    try:
        test = wilcoxon_signed_rank(difference)
    except ValueError as exc:
        notes.append(f"{label}: Wilcoxon signed-rank: {exc}")
        return {"wilcoxon_v": np.nan, "pvalue": np.nan, "test": ""}
    return {"wilcoxon_v": test.statistic, "pvalue": test.pvalue, "test": test.method}


def _figure(groups: dict[str, pd.DataFrame]) -> go.Figure:
    figure = go.Figure()
    for key, part in groups.items():
        figure.add_trace(
            go.Box(
                y=part["read_time_s"].to_numpy(dtype=float),
                name=GROUP_LABELS.get(key, key),
                marker_color=COLORS.get(key),
                boxmean=True,
            )
        )
    figure.update_layout(
        template="plotly_white", height=420, showlegend=False, yaxis_title="seconds per read"
    )
    return figure
