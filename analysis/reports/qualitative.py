"""Qualitative scores of the AI's extracted views: means per criterion and rater, paired t."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.frames import QUALITATIVE_CRITERIA, StudyData
from analysis.reports._common import counts
from analysis.reports._common import gettext_noop as _
from analysis.reports.base import Report, ReportFigure, ReportTable
from analysis.stats import paired_t

MEAN_METHODS = _("Mean (SD) of the 1–5 scores per criterion and rater over the cases each rated.")
TEST_METHODS = _(
    "Paired two-sided t test between the two raters per criterion, over the cases both "
    "scored; mean difference (first − second rater) with its 95 % CI."
)


def qualitative_report(data: StudyData) -> Report:
    """Mean score per criterion and rater and the paired t test between two raters."""
    scores = data.qualitative
    n = counts(data)
    tables: list[ReportTable] = []
    figures: list[ReportFigure] = []
    notes: list[str] = []
    if scores.empty:
        notes.append(_("No qualitative scores yet."))
    else:
        n_text = f"{scores['case'].nunique()} cases, {scores['rater'].nunique()} raters"
        criteria = [c for c in QUALITATIVE_CRITERIA if c in set(scores["criterion"])]
        criteria += sorted(set(scores["criterion"]) - set(criteria))
        raters = sorted(scores["rater"].astype(str).unique())
        mean_rows: list[dict[str, Any]] = []
        for criterion in criteria:
            for rater in raters:
                values = scores.loc[
                    (scores["criterion"] == criterion) & (scores["rater"].astype(str) == rater),
                    "score",
                ].to_numpy(dtype=float)
                if values.size:
                    mean_rows.append(
                        {
                            "criterion": criterion,
                            "rater": rater,
                            "cases": int(values.size),
                            "mean": float(values.mean()),
                            "sd": float(values.std(ddof=1)) if values.size > 1 else np.nan,
                        }
                    )
        means = pd.DataFrame(mean_rows)
        tables.append(
            ReportTable(
                "means", _("Mean score per criterion and rater"), means, MEAN_METHODS, n_text
            )
        )
        test_rows: list[dict[str, Any]] = []
        if len(raters) >= 2:
            first, second = raters[0], raters[1]
            wide = scores.pivot_table(
                index=["criterion", "case"], columns="rater", values="score", aggfunc="first"
            )
            wide.columns = [str(c) for c in wide.columns]
            for criterion in criteria:
                pairs = (
                    wide.loc[criterion, [first, second]].dropna()
                    if criterion in wide.index.get_level_values(0)
                    else None
                )
                if pairs is None or len(pairs) < 2:
                    continue
                a, b = pairs[first].to_numpy(dtype=float), pairs[second].to_numpy(dtype=float)
                if np.all(a - b == a[0] - b[0]):
                    test_rows.append(
                        {
                            "criterion": criterion,
                            "rater_a": first,
                            "rater_b": second,
                            "cases": int(a.size),
                            "mean_difference": float((a - b).mean()),
                            "ci_low": np.nan,
                            "ci_high": np.nan,
                            "t": np.nan,
                            "df": float(a.size - 1),
                            "pvalue": np.nan,
                        }
                    )
                    continue
                test = paired_t(a, b)
                test_rows.append(
                    {
                        "criterion": criterion,
                        "rater_a": first,
                        "rater_b": second,
                        "cases": int(a.size),
                        "mean_difference": test.estimate,
                        "ci_low": test.ci.low if test.ci else np.nan,
                        "ci_high": test.ci.high if test.ci else np.nan,
                        "t": test.statistic,
                        "df": test.df,
                        "pvalue": test.pvalue,
                    }
                )
        tables.append(
            ReportTable(
                "paired_t",
                _("Paired t test between raters"),
                pd.DataFrame(
                    test_rows,
                    columns=[
                        "criterion",
                        "rater_a",
                        "rater_b",
                        "cases",
                        "mean_difference",
                        "ci_low",
                        "ci_high",
                        "t",
                        "df",
                        "pvalue",
                    ],
                ),
                TEST_METHODS,
                n_text,
            )
        )
        figure = go.Figure()
        for rater in raters:
            part = means[means["rater"] == rater]
            figure.add_trace(
                go.Bar(
                    name=rater,
                    x=part["criterion"],
                    y=part["mean"],
                    error_y={"type": "data", "array": part["sd"].fillna(0).tolist()},
                )
            )
        figure.update_layout(
            barmode="group",
            yaxis={"title": "mean score", "range": [1, 5]},
            template="plotly_white",
            height=420,
        )
        figures.append(ReportFigure("means", _("Mean score per criterion and rater"), figure))
    return Report(
        key="qualitative",
        title=_("Qualitative assessment"),
        tables=tuple(tables),
        figures=tuple(figures),
        methods=f"{MEAN_METHODS} {TEST_METHODS}",
        n=n,
        snapshot=data.snapshot,
        notes=tuple(notes),
    )
