"""ROC figure data: the AI's empirical ROC curve, each reader's AUC and operating point.

The readers' AUCs are from their ratings where the study collects them, else from their
binary answers (:mod:`analysis.reports.scores` says which, in the methods and the notes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.frames import AI_READER, GROUPS, SCORE_RATINGS, StudyData
from analysis.reports._common import COLORS, GROUP_LABELS, counts, read_datasets
from analysis.reports._common import gettext_noop as _
from analysis.reports.base import Report, ReportFigure, ReportTable
from analysis.reports.scores import score_notes, score_text
from analysis.stats import has_both_classes, roc_auc, roc_curve_points

CURVE_METHODS = _(
    "Empirical ROC curve of the AI's severe probability (one point per distinct threshold, "
    "ties handled jointly; scikit-learn's roc_curve); AUC with DeLong 95 % CI."
)
POINT_METHODS = _(
    "Operating point of each reader's severe yes/no call: (1 − specificity, sensitivity)."
)


def roc_report(data: StudyData) -> Report:
    """Per dataset: the AI's ROC curve (table and figure) and the readers' operating points."""
    curves: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    reader_aucs: list[dict[str, Any]] = []
    # Where readers rate, each one's empirical ROC curve is drawn too (thin, his group's colour).
    rated = data.score_source == SCORE_RATINGS
    reader_curves: list[tuple[str, str, str, np.ndarray, np.ndarray]] = []
    datasets = read_datasets(data)
    reads = data.reads
    for dataset in datasets:
        rows = reads[reads["dataset"] == dataset]
        ai = rows[rows["reader"] == AI_READER]
        truth = ai["truth"].to_numpy(dtype=int)
        if not ai.empty and has_both_classes(truth):
            scores = ai["rating"].to_numpy(dtype=float)
            fpr, tpr, thresholds = roc_curve_points(truth, scores)
            auc = roc_auc(truth, scores)
            for f, t, th in zip(fpr, tpr, thresholds, strict=True):
                curves.append(
                    {
                        "dataset": dataset,
                        "fpr": float(f),
                        "tpr": float(t),
                        "threshold": float(th) if np.isfinite(th) else np.nan,
                        "auc": auc.auc,
                        "auc_low": auc.ci.low,
                        "auc_high": auc.ci.high,
                    }
                )
        for group, tier, modality in GROUPS:
            selected = rows[(rows["tier"] == tier) & (rows["modality"] == modality)]
            for reader, answers in selected.groupby("reader", sort=True):
                positives = answers[answers["truth"] == 1]
                negatives = answers[answers["truth"] == 0]
                if positives.empty or negatives.empty:
                    continue
                reader_truth = answers["truth"].to_numpy(dtype=int)
                reader_scores = answers["rating"].to_numpy(dtype=float)
                auc = roc_auc(reader_truth, reader_scores)
                if rated:
                    fpr, tpr, _thresholds = roc_curve_points(reader_truth, reader_scores)
                    reader_curves.append((dataset, str(group), str(reader), fpr, tpr))
                reader_aucs.append(
                    {
                        "dataset": dataset,
                        "group": group,
                        "reader": str(reader),
                        "cases": len(answers),
                        "auc": auc.auc,
                        "auc_low": auc.ci.low,
                        "auc_high": auc.ci.high,
                    }
                )
                points.append(
                    {
                        "dataset": dataset,
                        "group": group,
                        "reader": str(reader),
                        "fpr": float(negatives["decision"].mean()),
                        "tpr": float(positives["decision"].mean()),
                        "cases": len(answers),
                    }
                )
    curve_frame = pd.DataFrame(
        curves, columns=["dataset", "fpr", "tpr", "threshold", "auc", "auc_low", "auc_high"]
    )
    point_frame = pd.DataFrame(
        points, columns=["dataset", "group", "reader", "fpr", "tpr", "cases"]
    )
    auc_frame = pd.DataFrame(
        reader_aucs, columns=["dataset", "group", "reader", "cases", "auc", "auc_low", "auc_high"]
    )
    n = counts(data)
    n_text = f"{n['cases']} cases, {n['readers']} readers (+ AI)"
    scores = score_text(data)
    return Report(
        key="roc",
        title=_("ROC curves and reader operating points"),
        tables=(
            ReportTable("ai_roc", _("The AI's ROC curve"), curve_frame, CURVE_METHODS, n_text),
            ReportTable(
                "operating_points", _("Reader operating points"), point_frame, POINT_METHODS, n_text
            ),
            ReportTable("reader_auc", _("Reader AUCs"), auc_frame, scores, n_text),
        ),
        figures=(
            ReportFigure(
                "roc",
                _("ROC: AI curve and reader operating points"),
                _figure(curve_frame, point_frame, datasets, reader_curves),
            ),
        ),
        methods=f"{CURVE_METHODS} {POINT_METHODS} {scores}",
        n=n,
        snapshot=data.snapshot,
        notes=score_notes(data),
    )


def _figure(
    curves: pd.DataFrame,
    points: pd.DataFrame,
    datasets: list[str],
    reader_curves: Sequence[tuple[str, str, str, np.ndarray, np.ndarray]] = (),
) -> go.Figure:
    columns = max(len(datasets), 1)
    figure = make_subplots(rows=1, cols=columns, subplot_titles=datasets or [""])
    shown: set[str] = set()
    for index, dataset in enumerate(datasets, start=1):
        for _dataset, group, reader, fpr, tpr in (c for c in reader_curves if c[0] == dataset):
            figure.add_trace(
                go.Scatter(
                    x=fpr,
                    y=tpr,
                    mode="lines",
                    line={"color": COLORS.get(group), "width": 1},
                    opacity=0.45,
                    text=reader,
                    hoverinfo="text",
                    legendgroup=group,
                    showlegend=False,
                ),
                row=1,
                col=index,
            )
        curve = curves[curves["dataset"] == dataset]
        if not curve.empty:
            auc = curve["auc"].iloc[0]
            figure.add_trace(
                go.Scatter(
                    x=curve["fpr"],
                    y=curve["tpr"],
                    mode="lines",
                    name=f"AI (AUC {auc:.3f})",
                    line={"color": COLORS["ai"]},
                    legendgroup=f"ai-{dataset}",
                ),
                row=1,
                col=index,
            )
        for group, rows in points[points["dataset"] == dataset].groupby("group", sort=False):
            label = GROUP_LABELS.get(str(group), str(group))
            figure.add_trace(
                go.Scatter(
                    x=rows["fpr"],
                    y=rows["tpr"],
                    mode="markers",
                    name=label,
                    marker={"color": COLORS.get(str(group)), "size": 8},
                    text=rows["reader"],
                    legendgroup=str(group),
                    showlegend=label not in shown,
                ),
                row=1,
                col=index,
            )
            shown.add(label)
        figure.add_trace(
            go.Scatter(
                x=[0, 1],
                y=[0, 1],
                mode="lines",
                line={"dash": "dot", "color": "#999"},
                showlegend=False,
                hoverinfo="skip",
            ),
            row=1,
            col=index,
        )
        figure.update_xaxes(title_text="1 − specificity", range=[0, 1], row=1, col=index)
        figure.update_yaxes(title_text="sensitivity", range=[0, 1], row=1, col=index)
    figure.update_layout(template="plotly_white", height=460)
    return figure
