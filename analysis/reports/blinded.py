"""The blinded randomized source trial (the paper's Table 3).

Reveals the allocation (which material came from the AI) and per-case sources, so the
pages and API refuse it until the study is unblinded (see :mod:`analysis.services`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.frames import StudyData
from analysis.reports._common import LEVEL, counts
from analysis.reports._common import gettext_noop as _
from analysis.reports.base import Report, ReportFigure, ReportTable
from analysis.stats import (
    bang_blinding_index,
    chi_square,
    clopper_pearson,
    cohen_kappa,
    james_blinding_index,
    proportion_difference,
    welch_t,
)

ARMS = ("ai", "junior")
GUESSES = ("ai", "junior", "dont_know")
BANG_METHODS = _(
    "Bang's blinding index per arm ('don't know' answers stay in the denominator): Wald 95 % "
    "CI (Bang 2004) and percentile multinomial bootstrap CI; James' index over both arms "
    "(1 = complete blinding, 0.5 = random guessing, 0 = complete unblinding) with its Wald CI."
)
GUESS_METHODS = _("Counts of the seniors' source guesses by true source, with row percentages.")
CHANGE_METHODS = _(
    "Share of initial diagnoses changed by the senior per arm, Clopper–Pearson 95 % CIs; "
    "difference (junior − AI) with an unpooled Wald 95 % CI (statsmodels); "
    "Pearson χ² test of the 2 × 2 "
    "table without continuity correction."
)
AGREEMENT_METHODS = _(
    "Agreement of the secondary (senior's) diagnosis with the gold standard per arm: accuracy "
    "with Clopper–Pearson 95 % CI and Cohen's κ (asymptotic CI); Pearson χ² test between arms."
)
TIME_METHODS = _(
    "Secondary read time (active seconds) per arm; one-sided Welch t test "
    "(H1: junior material takes longer than AI material)."
)


def blinded_report(data: StudyData, *, n_resamples: int = 2000, seed: int = 0) -> Report:
    """Bang/James indices, guesses by source, change rates, agreement and read times."""
    trial = data.blinded
    n = counts(data)
    notes: list[str] = []
    tables: list[ReportTable] = []
    figures: list[ReportFigure] = []
    arms_present = set(trial["arm"].astype(str)) if not trial.empty else set()
    if trial.empty or not set(ARMS) <= arms_present:
        notes.append(_("No blinded-review data with both arms yet."))
    else:
        n_text = (
            f"{len(trial)} reviews by {trial['senior'].nunique()} seniors of "
            f"{trial['case'].nunique()} cases"
        )
        table = pd.crosstab(trial["arm"], trial["guess"]).reindex(
            index=list(ARMS), columns=list(GUESSES), fill_value=0
        )
        counts_matrix = table.to_numpy(dtype=int)
        bang = bang_blinding_index(counts_matrix, level=LEVEL, n_resamples=n_resamples, seed=seed)
        james = james_blinding_index(counts_matrix, level=LEVEL)
        bang_rows: list[dict[str, Any]] = []
        for arm, result, row in zip(ARMS, bang, counts_matrix, strict=True):
            boot = result.bootstrap_ci
            bang_rows.append(
                {
                    "index": "Bang",
                    "arm": arm,
                    "reviews": int(row.sum()),
                    "correct": int(row[ARMS.index(arm)]),
                    "wrong": int(row[1 - ARMS.index(arm)]),
                    "dont_know": int(row[2]),
                    "estimate": result.estimate,
                    "ci_low": result.ci.low,
                    "ci_high": result.ci.high,
                    "boot_low": boot.low if boot else np.nan,
                    "boot_high": boot.high if boot else np.nan,
                }
            )
        bang_rows.append(
            {
                "index": "James",
                "arm": "both",
                "reviews": int(counts_matrix.sum()),
                "correct": int(np.trace(counts_matrix[:, :2])),
                "wrong": int(counts_matrix[:, :2].sum() - np.trace(counts_matrix[:, :2])),
                "dont_know": int(counts_matrix[:, 2].sum()),
                "estimate": james.estimate,
                "ci_low": james.ci.low,
                "ci_high": james.ci.high,
                "boot_low": np.nan,
                "boot_high": np.nan,
            }
        )
        tables.append(
            ReportTable(
                "blinding",
                _("Table 3: blinding indices"),
                pd.DataFrame(bang_rows),
                BANG_METHODS,
                n_text,
            )
        )

        guess_rows = []
        for arm, row in zip(ARMS, counts_matrix, strict=True):
            total = row.sum()
            guess_rows.append(
                {
                    "arm": arm,
                    **{f"guess_{g}": int(v) for g, v in zip(GUESSES, row, strict=True)},
                    **{f"pct_{g}": 100.0 * v / total for g, v in zip(GUESSES, row, strict=True)},
                    "reviews": int(total),
                }
            )
        tables.append(
            ReportTable(
                "guesses",
                _("Source guesses by true source"),
                pd.DataFrame(guess_rows),
                GUESS_METHODS,
                n_text,
            )
        )

        change_frame, change_notes = _changes(trial)
        notes.extend(change_notes)
        tables.append(
            ReportTable(
                "changes",
                _("Initial diagnoses changed, per arm"),
                change_frame,
                CHANGE_METHODS,
                n_text,
            )
        )
        tables.append(
            ReportTable(
                "agreement",
                _("Secondary diagnosis vs gold standard, per arm"),
                _agreement(trial),
                AGREEMENT_METHODS,
                n_text,
            )
        )
        tables.append(
            ReportTable(
                "read_time", _("Secondary read time per arm"), _times(trial), TIME_METHODS, n_text
            )
        )
        figures.append(
            ReportFigure(
                "blinding_index",
                _("Source guesses and Bang's blinding index by arm"),
                _blinding_figure(table, bang_rows[: len(ARMS)]),
            )
        )
        figures.append(
            ReportFigure(
                "guesses", _("Source guesses and read times by arm"), _figure(table, trial)
            )
        )
    return Report(
        key="blinded",
        title=_("Blinded source trial"),
        tables=tuple(tables),
        figures=tuple(figures),
        methods=" ".join(
            (BANG_METHODS, GUESS_METHODS, CHANGE_METHODS, AGREEMENT_METHODS, TIME_METHODS)
        ),
        n=n,
        snapshot=data.snapshot,
        notes=tuple(notes),
    )


def _changes(trial: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    rows: list[dict[str, Any]] = []
    rates: dict[str, tuple[int, int]] = {}
    for arm in ARMS:
        part = trial[trial["arm"] == arm]
        k, total = int(part["changed"].sum()), len(part)
        ci = clopper_pearson(k, total, LEVEL)
        rates[arm] = (k, total)
        rows.append(
            {
                "row": arm,
                "reviews": total,
                "changed": k,
                "rate": k / total,
                "ci_low": ci.low,
                "ci_high": ci.high,
                "chi2": np.nan,
                "pvalue": np.nan,
            }
        )
    (k_ai, n_ai), (k_j, n_j) = rates["ai"], rates["junior"]
    diff = proportion_difference(k_j, n_j, k_ai, n_ai, LEVEL)
    notes: list[str] = []
    chi2 = pvalue = np.nan
    try:
        test = chi_square([[k_ai, n_ai - k_ai], [k_j, n_j - k_j]], correction=False)
        chi2, pvalue = test.statistic, test.pvalue
    except ValueError as exc:
        notes.append(f"χ² of change rates: {exc}")
    rows.append(
        {
            "row": "difference (junior − ai)",
            "reviews": n_ai + n_j,
            "changed": k_ai + k_j,
            "rate": diff.value,
            "ci_low": diff.ci.low,
            "ci_high": diff.ci.high,
            "chi2": chi2,
            "pvalue": pvalue,
        }
    )
    return pd.DataFrame(rows), notes


def _agreement(trial: pd.DataFrame) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    table = []
    for arm in ARMS:
        part = trial[trial["arm"] == arm]
        secondary = part["secondary_decision"].to_numpy(dtype=int)
        truth = part["truth"].to_numpy(dtype=int)
        initial = part["initial_decision"].to_numpy(dtype=int)
        right = int((secondary == truth).sum())
        ci = clopper_pearson(right, truth.size, LEVEL)
        try:
            kappa = cohen_kappa(secondary, truth, categories=[0, 1])
            k_value, k_low, k_high = kappa.kappa, kappa.ci.low, kappa.ci.high
        except ValueError:
            k_value = k_low = k_high = np.nan
        table.append([right, truth.size - right])
        rows.append(
            {
                "arm": arm,
                "reviews": int(truth.size),
                "initial_accuracy": float((initial == truth).mean()),
                "secondary_correct": right,
                "accuracy": right / truth.size,
                "ci_low": ci.low,
                "ci_high": ci.high,
                "kappa": k_value,
                "kappa_low": k_low,
                "kappa_high": k_high,
            }
        )
    frame = pd.DataFrame(rows)
    try:
        test = chi_square(table, correction=False)
        frame["chi2_between_arms"] = test.statistic
        frame["pvalue_between_arms"] = test.pvalue
    except ValueError:
        frame["chi2_between_arms"] = np.nan
        frame["pvalue_between_arms"] = np.nan
    return frame


def _times(trial: pd.DataFrame) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    samples = {
        arm: trial.loc[trial["arm"] == arm, "read_time_s"].to_numpy(dtype=float) for arm in ARMS
    }
    for arm in ARMS:
        values = samples[arm]
        rows.append(
            {
                "arm": arm,
                "reviews": int(values.size),
                "mean_s": float(values.mean()),
                "sd_s": float(values.std(ddof=1)) if values.size > 1 else np.nan,
                "median_s": float(np.median(values)),
            }
        )
    frame = pd.DataFrame(rows)
    if all(v.size > 1 for v in samples.values()):
        test = welch_t(samples["junior"], samples["ai"], alternative="greater")
        frame["welch_t"] = test.statistic
        frame["df"] = test.df
        frame["pvalue_one_sided"] = test.pvalue
    return frame


#: One colour per source and per "don't know", the same in every figure of the report.
COLORS = {"ai": "#d62728", "junior": "#1f77b4", "dont_know": "#7f7f7f"}


def _guess_bars(figure: go.Figure, table: pd.DataFrame) -> None:
    """The source guesses per arm as stacked bars, in the figure's first panel."""
    for guess in GUESSES:
        figure.add_trace(
            go.Bar(
                name=f"guessed {guess}",
                x=list(ARMS),
                y=table[guess].tolist(),
                marker_color=COLORS[guess],
            ),
            row=1,
            col=1,
        )


def _figure(table: pd.DataFrame, trial: pd.DataFrame) -> go.Figure:
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=["Source guesses", "Secondary read time (s)"]
    )
    _guess_bars(figure, table)
    for arm in ARMS:
        figure.add_trace(
            go.Box(
                y=trial.loc[trial["arm"] == arm, "read_time_s"],
                name=arm,
                marker_color=COLORS[arm],
                showlegend=False,
            ),
            row=1,
            col=2,
        )
    figure.update_layout(barmode="stack", template="plotly_white", height=420)
    return figure


#: Bang's index between these limits is read as blinding kept (Bang 2004; Park et al. 2008).
IDEAL_BLINDING = (-0.2, 0.2)


def _blinding_figure(table: pd.DataFrame, rows: list[dict[str, Any]]) -> go.Figure:
    """The guess counts beside Bang's index per arm with its Wald and bootstrap 95 % CIs,
    the band of "ideal blinding" (−0.2 to 0.2) shaded."""
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=["Source guesses", "Bang's blinding index (95 % CI)"]
    )
    _guess_bars(figure, table)
    arms = [row["arm"] for row in rows]
    estimates = np.array([row["estimate"] for row in rows], dtype=float)
    for name, low, high, offset, symbol in (
        ("Wald CI", "ci_low", "ci_high", -0.08, "circle"),
        ("bootstrap CI", "boot_low", "boot_high", 0.08, "diamond"),
    ):
        lows = np.array([row[low] for row in rows], dtype=float)
        highs = np.array([row[high] for row in rows], dtype=float)
        figure.add_trace(
            go.Scatter(
                name=name,
                x=[i + offset for i in range(len(arms))],
                y=estimates,
                mode="markers",
                marker={"symbol": symbol, "size": 10, "color": "#333333"},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": highs - estimates,
                    "arrayminus": estimates - lows,
                },
            ),
            row=1,
            col=2,
        )
    figure.add_hrect(
        y0=IDEAL_BLINDING[0],
        y1=IDEAL_BLINDING[1],
        fillcolor="#2ca02c",
        opacity=0.15,
        line_width=0,
        row=1,
        col=2,
    )
    figure.add_annotation(
        text="ideal blinding (−0.2 to 0.2)",
        x=len(arms) - 0.5,
        y=IDEAL_BLINDING[1],
        yanchor="bottom",
        xanchor="right",
        showarrow=False,
        row=1,
        col=2,
    )
    figure.update_xaxes(
        tickvals=list(range(len(arms))),
        ticktext=arms,
        range=[-0.5, len(arms) - 0.5],
        title_text="true source",
        row=1,
        col=2,
    )
    figure.update_yaxes(
        range=[-1.05, 1.05], title_text="Bang's blinding index", zeroline=True, row=1, col=2
    )
    figure.update_layout(barmode="stack", template="plotly_white", height=420)
    return figure
