"""MRMC: Obuchowski–Rockette (Hillis df) junior vs junior with AI; AI vs reader panels;
the sample size of a follow-up study from this study's variance components."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.frames import AI_READER, StudyData
from analysis.reports._common import counts
from analysis.reports._common import gettext_noop as _
from analysis.reports.base import Report, ReportFigure, ReportTable
from analysis.reports.scores import score_notes, score_text
from analysis.stats import MRMCResult, mrmc_dbm, mrmc_model_vs_readers, mrmc_or, mrmc_sample_size
from analysis.stats.splitplot import SplitPlotLayout, mrmc_or_split_plot, split_plot_layout

OR_METHODS = _(
    "Obuchowski–Rockette analysis of junior readers alone vs with AI, random readers and "
    "random cases, Hillis (2007) denominator degrees of freedom, jackknife covariances "
    "(for sensitivity and specificity, of the severe calls, the jackknife runs over the "
    "cases of the truth class the metric uses, as MRMCaov does). Difference = with AI − "
    "alone. DBM (jackknife pseudovalues) for the AUC as a cross-check: it equals OR with "
    "jackknife covariances (Hillis 2005)."
)
PANEL_METHODS = _(
    "The AI as a fixed reader against the mean AUC of a random reader panel (unaided reads): "
    "OR single-test analysis with Hillis df, jackknife covariances. Difference = AI − panel."
)
SIZE_METHODS = _(
    "Cases needed for 80 % power (two-sided α = 0.05) to detect the stated AUC difference "
    "between two modalities in a fully crossed RRRC study, from this study's OR variance "
    "components (Hillis, Obuchowski & Berbaum 2011)."
)
SPLIT_PLOT_METHODS = _(
    "Split-plot-c layout (a counterbalanced crossover: readers and cases split into blocks, "
    "each reader reads his block's cases alone and with AI): Obuchowski–Rockette for the "
    "split-plot design (Obuchowski, Gallas & Hillis 2012), covariances estimated within "
    "each block and averaged over all reader pairs (readers of different blocks share no "
    "case: covariance 0), random readers and cases, Hillis df. With one block it is the "
    "fully crossed analysis. DBM and the sample-size table assume a fully crossed design "
    "and are not computed for it."
)
MODALITY_ORDER = ("aided", "unaided")
INFINITE_DF_NOTE = _(
    "A denominator df of ∞ means MS(T×R) (for the AI against a panel: the variance of the "
    "reader differences) is zero, so the reader-by-test variance estimate is negative or zero: "
    "Hillis' df is then infinite and the F test is a χ² test with normal-quantile CIs, as "
    "MRMCaov and RJafroc report it (df = Inf)."
)


def _long(data: StudyData) -> tuple[pd.DataFrame, SplitPlotLayout | None]:
    """Juniors' unaided and aided reads and the layout they form.

    A split-plot layout (readers with disjoint case sets, each read in both modalities) is
    kept whole; otherwise the fully crossed part (readers and cases in both), layout None.
    """
    reads = data.reads
    juniors = reads[(reads["tier"] == "junior") & reads["modality"].isin(MODALITY_ORDER)]
    if juniors.empty:
        return juniors, None
    per = juniors.groupby(["reader", "case"])["modality"].nunique()
    complete = per[per == 2].reset_index()[["reader", "case"]]
    columns = ["reader", "modality", "case", "truth", "rating", "decision"]
    paired = juniors.merge(complete, on=["reader", "case"]).loc[:, columns]
    if not paired.empty:
        try:
            layout = split_plot_layout(paired)
        except ValueError:
            layout = None
        if layout is not None and layout.blocks > 1:
            return paired, layout
    cases_by_reader = complete.groupby("case")["reader"].nunique()
    readers = complete["reader"].unique()
    full_cases = cases_by_reader[cases_by_reader == len(readers)].index
    keep = juniors[juniors["reader"].isin(readers) & juniors["case"].isin(full_cases)]
    return keep.loc[:, columns], None


def _or_row(label: str, result: MRMCResult) -> dict[str, Any]:
    """One row of the OR table: the endpoint's estimates, test and variance components."""
    return {
        "endpoint": label,
        "readers": result.n_readers,
        "cases": result.n_cases,
        "alone": result.auc.get("unaided", np.nan),
        "with_ai": result.auc.get("aided", np.nan),
        "difference": result.difference,
        "ci_low": result.ci.low,
        "ci_high": result.ci.high,
        "F": result.statistic,
        "df_num": result.df_num,
        "df_den": result.df_den,
        "pvalue": result.pvalue,
        "var_r": result.var_r,
        "var_tr": result.var_tr,
        "var_error": result.var_error,
        "cov1": result.cov1,
        "cov2": result.cov2,
        "cov3": result.cov3,
        "method": result.method,
        "design": "split-plot-c" if "split-plot-c" in result.method else "fully crossed",
    }


def mrmc_report(data: StudyData, *, effect: float | None = None) -> Report:
    """OR/DBM junior vs junior with AI (AUC, Se, Sp), AI vs panels, and the sample size."""
    notes: list[str] = []
    long, layout = _analysable(*_long(data), notes)
    pilot, or_rows, reader_auc = _junior_or(long, layout, notes)
    crossed_pilot = pilot if layout is None else None
    if crossed_pilot is not None:
        or_rows.append(_dbm_row(long, crossed_pilot))
    or_frame = pd.DataFrame(or_rows)
    panel_frame = _ai_vs_panels(data.reads, notes)
    size_frame = _sample_size(crossed_pilot, effect, notes)
    if _has_infinite_df(or_frame, panel_frame):
        notes.append(INFINITE_DF_NOTE)
    n = counts(data)
    n_text = _n_text(long, layout)
    or_methods = OR_METHODS if layout is None else SPLIT_PLOT_METHODS
    if layout is not None:
        notes.append(f"Design analysed: {layout.describe()}.")
    return Report(
        key="mrmc",
        title=_("MRMC analysis"),
        tables=(
            ReportTable(
                "or",
                _("Obuchowski–Rockette: junior alone vs with AI"),
                or_frame,
                or_methods,
                n_text,
            ),
            ReportTable(
                "reader_auc",
                _("Reader AUCs alone and with AI"),
                reader_auc,
                score_text(data),
                n_text,
            ),
            ReportTable(
                "ai_vs_panel",
                _("The AI against reader panels"),
                panel_frame,
                PANEL_METHODS,
                f"{n['cases']} cases, {n['readers']} readers (+ AI)",
            ),
            ReportTable(
                "sample_size",
                _("Sample size of a follow-up study"),
                size_frame,
                SIZE_METHODS,
                n_text,
            ),
        ),
        figures=(
            ReportFigure("reader_auc", _("Reader AUC alone vs with AI"), _figure(reader_auc)),
        ),
        methods=f"{or_methods} {score_text(data)} {PANEL_METHODS} {SIZE_METHODS}",
        n=n,
        snapshot=data.snapshot,
        notes=(*score_notes(data), *notes),
    )


def _analysable(
    long: pd.DataFrame, layout: SplitPlotLayout | None, notes: list[str]
) -> tuple[pd.DataFrame, SplitPlotLayout | None]:
    """The reads and layout to analyse: none, with a note, if the split-plot OR cannot run."""
    if layout is None:
        return long, None
    try:  # e.g. a block whose cases are all of one truth (a study still being read)
        mrmc_or_split_plot(long, endpoint="auc")
    except ValueError as exc:
        notes.append(f"OR split-plot: {exc}")
        return long.iloc[0:0], None
    return long, layout


def _junior_or(
    long: pd.DataFrame, layout: SplitPlotLayout | None, notes: list[str]
) -> tuple[MRMCResult | None, list[dict[str, Any]], pd.DataFrame]:
    """The AUC analysis (the pilot), the OR rows for AUC, Se and Sp, and the reader AUCs."""
    if long.empty or long["reader"].nunique() < 2:
        notes.append(_("MRMC needs at least two junior readers with reads alone and with AI."))
        return None, [], pd.DataFrame(columns=["reader", "unaided", "aided"])
    analyse = mrmc_or if layout is None else mrmc_or_split_plot
    # Modality codes sort so that "aided" comes first: difference = aided − unaided.
    pilot = analyse(long, endpoint="auc")
    rows = [_or_row("auc", pilot)]
    calls = long.assign(rating=long["decision"].astype(float))
    for endpoint in ("sensitivity", "specificity"):
        try:
            rows.append(_or_row(endpoint, analyse(calls, endpoint=endpoint, threshold=0.5)))
        except ValueError as exc:
            notes.append(f"OR {endpoint}: {exc}")
    return pilot, rows, pilot.reader_auc.reset_index().rename_axis(None, axis=1)


def _dbm_row(long: pd.DataFrame, pilot: MRMCResult) -> dict[str, Any]:
    """The DBM AUC row of a fully crossed design, a cross-check of the OR AUC row."""
    dbm = mrmc_dbm(long)
    return {
        "endpoint": "auc (DBM)",
        "readers": pilot.n_readers,
        "cases": pilot.n_cases,
        "alone": dbm.auc.get("unaided", np.nan),
        "with_ai": dbm.auc.get("aided", np.nan),
        "difference": dbm.difference,
        "ci_low": dbm.ci.low,
        "ci_high": dbm.ci.high,
        "F": dbm.statistic,
        "df_num": dbm.df_num,
        "df_den": dbm.df_den,
        "pvalue": dbm.pvalue,
        "var_r": np.nan,
        "var_tr": np.nan,
        "var_error": np.nan,
        "cov1": np.nan,
        "cov2": np.nan,
        "cov3": np.nan,
        "method": dbm.method,
        "design": "fully crossed",
    }


def _ai_vs_panels(reads: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """The AI as a fixed reader against each panel of unaided readers that can be analysed."""
    rows: list[dict[str, Any]] = []
    ai = reads[reads["reader"] == AI_READER].set_index("case")["rating"]
    panels = {
        "junior": ("junior",),
        "mid_level": ("mid_level",),
        "junior + mid_level": ("junior", "mid_level"),
    }
    if ai.empty:
        return pd.DataFrame(rows)
    for label, tiers in panels.items():
        panel = _panel(reads, tiers, ai.index)
        if panel is None:
            continue
        try:
            result = mrmc_model_vs_readers(
                panel.loc[:, ["reader", "modality", "case", "truth", "rating"]],
                ai,
                modality="unaided",
            )
        except ValueError as exc:
            notes.append(f"AI vs {label}: {exc}")
            continue
        rows.append(
            {
                "panel": label,
                "readers": int(panel["reader"].nunique()),
                "cases": int(panel["case"].nunique()),
                "ai_auc": result.model_auc,
                "panel_mean_auc": result.reader_mean_auc,
                "difference": result.difference,
                "ci_low": result.ci.low,
                "ci_high": result.ci.high,
                "t": result.statistic,
                "df": result.df,
                "pvalue": result.pvalue,
                "method": result.method,
            }
        )
    return pd.DataFrame(rows)


def _panel(reads: pd.DataFrame, tiers: tuple[str, ...], cases: pd.Index) -> pd.DataFrame | None:
    """The tiers' unaided reads of the AI's cases that every panel reader read; None under two."""
    panel = reads[reads["tier"].isin(tiers) & (reads["modality"] == "unaided")]
    panel = panel[panel["case"].isin(cases)]
    if panel["reader"].nunique() < 2:
        return None
    complete = panel.groupby("case")["reader"].nunique()
    return panel[panel["case"].isin(complete[complete == panel["reader"].nunique()].index)]


def _sample_size(pilot: MRMCResult | None, effect: float | None, notes: list[str]) -> pd.DataFrame:
    """Follow-up cases per reader count for the effect given, else the pilot's (at least 0.02)."""
    if pilot is not None:
        delta = effect if effect is not None else max(abs(pilot.difference), 0.02)
        try:
            size = mrmc_sample_size(pilot, effect=delta, readers=(3, 5, 8, 10, 15, 20))
            return size.table.assign(effect=delta)
        except ValueError as exc:
            notes.append(f"sample size: {exc}")
    return pd.DataFrame(columns=["readers", "cases", "power", "df_den", "effect"])


def _has_infinite_df(or_frame: pd.DataFrame, panel_frame: pd.DataFrame) -> bool:
    """Whether an OR or panel analysis has an infinite Hillis df, which a note then explains."""
    dfs = pd.to_numeric(
        pd.Series([*or_frame.get("df_den", []), *panel_frame.get("df", [])], dtype=object),
        errors="coerce",
    )
    return bool(np.isinf(dfs.astype(float)).any())


def _n_text(long: pd.DataFrame, layout: SplitPlotLayout | None) -> str:
    """The n of the junior tables: cases, readers and modalities, and the design analysed."""
    text = (
        f"{long['case'].nunique()} cases, {long['reader'].nunique()} junior readers × 2 modalities"
        if not long.empty
        else "0 cases"
    )
    if layout is not None:
        return f"{text}; design analysed: {layout.describe()}"
    if not long.empty:
        return f"{text}; design analysed: fully crossed"
    return text


def _figure(reader_auc: pd.DataFrame) -> go.Figure:
    """Each junior's AUC alone against with AI, over the line of no change."""
    figure = go.Figure()
    if not reader_auc.empty and {"unaided", "aided"} <= set(reader_auc.columns):
        figure.add_trace(
            go.Scatter(
                x=reader_auc["unaided"],
                y=reader_auc["aided"],
                mode="markers+text",
                text=reader_auc["reader"].astype(str),
                textposition="top center",
                marker={"size": 10, "color": "#ff7f0e"},
                name="junior readers",
            )
        )
    figure.add_trace(
        go.Scatter(
            x=[0.5, 1],
            y=[0.5, 1],
            mode="lines",
            line={"dash": "dot", "color": "#999"},
            showlegend=False,
        )
    )
    figure.update_layout(
        xaxis={"title": "AUC alone", "range": [0.5, 1]},
        yaxis={"title": "AUC with AI", "range": [0.5, 1]},
        template="plotly_white",
        height=420,
    )
    return figure
