"""Agreement: Fleiss' κ within reader groups (with and without AI), Cohen's κ with the AI."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from analysis.frames import AI_READER, StudyData, group_reads, rating_matrix
from analysis.reports._common import COLORS, GROUP_LABELS, counts
from analysis.reports._common import gettext_noop as _
from analysis.reports.base import Report, ReportFigure, ReportTable
from analysis.stats import cohen_kappa, fleiss_kappa

FLEISS_METHODS = _(
    "Fleiss' κ of the severe yes/no calls of the readers of a group over the cases every "
    "one of them read; 95 % CI by percentile bootstrap over cases (2,000 resamples, "
    "seeded); the z test of κ = 0 uses the H0 standard error (Fleiss, Nee & Landis 1979), "
    "which is never used for the CI."
)
COHEN_METHODS = _(
    "Cohen's κ (unweighted) of each reader's severe yes/no calls with the AI's on the same "
    "cases; asymptotic 95 % CI (Fleiss, Cohen & Everitt 1969)."
)


def agreement_report(data: StudyData, *, n_resamples: int = 2000, seed: int = 0) -> Report:
    """Fleiss' κ per group, Cohen's κ of every reader against the AI, and their box plot."""
    fleiss_rows: list[dict[str, Any]] = []
    for group in ("junior", "junior_ai", "mid_level"):
        rows = group_reads(data.reads, group)
        if rows.empty or rows["reader"].nunique() < 2:
            continue
        decisions, _truth, readers, cases = rating_matrix(rows, "decision")
        try:
            result = fleiss_kappa(decisions.T.astype(int), n_resamples=n_resamples, seed=seed)
        except ValueError as exc:
            fleiss_rows.append(
                {
                    "group": group,
                    "readers": len(readers),
                    "cases": len(cases),
                    "kappa": float("nan"),
                    "ci_low": float("nan"),
                    "ci_high": float("nan"),
                    "z": float("nan"),
                    "pvalue": float("nan"),
                    "note": str(exc),
                }
            )
            continue
        fleiss_rows.append(
            {
                "group": group,
                "readers": len(readers),
                "cases": len(cases),
                "kappa": result.kappa,
                "ci_low": result.ci.low,
                "ci_high": result.ci.high,
                "z": result.statistic,
                "pvalue": result.pvalue,
                "note": "",
            }
        )

    ai = data.reads[data.reads["reader"] == AI_READER].set_index("case")["decision"]
    cohen_rows: list[dict[str, Any]] = []
    if not ai.empty:
        for group in ("junior", "junior_ai", "mid_level"):
            rows = group_reads(data.reads, group)
            for reader, answers in rows.groupby("reader", sort=True):
                answers = answers[answers["case"].isin(ai.index)]
                if answers.empty:
                    continue
                mine = answers["decision"].to_numpy(dtype=int)
                theirs = ai.reindex(answers["case"]).to_numpy(dtype=int)
                try:
                    kappa = cohen_kappa(mine, theirs, categories=[0, 1])
                except ValueError:
                    continue
                cohen_rows.append(
                    {
                        "group": group,
                        "reader": str(reader),
                        "cases": int(mine.size),
                        "kappa": kappa.kappa,
                        "ci_low": kappa.ci.low,
                        "ci_high": kappa.ci.high,
                        "agreement": float((mine == theirs).mean()),
                    }
                )
    fleiss_frame = pd.DataFrame(
        fleiss_rows,
        columns=["group", "readers", "cases", "kappa", "ci_low", "ci_high", "z", "pvalue", "note"],
    )
    cohen_frame = pd.DataFrame(
        cohen_rows, columns=["group", "reader", "cases", "kappa", "ci_low", "ci_high", "agreement"]
    )
    n = counts(data)
    n_text = f"{n['cases']} cases, {n['readers']} readers"
    return Report(
        key="agreement",
        title=_("Inter-reader agreement"),
        tables=(
            ReportTable(
                "fleiss", _("Fleiss' κ within each group"), fleiss_frame, FLEISS_METHODS, n_text
            ),
            ReportTable(
                "cohen_vs_ai",
                _("Cohen's κ of each reader with the AI"),
                cohen_frame,
                COHEN_METHODS,
                n_text,
            ),
        ),
        figures=(
            ReportFigure(
                "cohen_box", _("Cohen's κ with the AI, readers by group"), _figure(cohen_frame)
            ),
        ),
        methods=f"{FLEISS_METHODS} {COHEN_METHODS}",
        n=n,
        snapshot=data.snapshot,
    )


def _figure(cohen: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    for group, rows in cohen.groupby("group", sort=False):
        figure.add_trace(
            go.Box(
                y=rows["kappa"],
                name=GROUP_LABELS.get(str(group), str(group)),
                boxpoints="all",
                text=rows["reader"],
                marker_color=COLORS.get(str(group)),
            )
        )
    figure.update_layout(
        yaxis={"title": "Cohen's κ vs AI"}, template="plotly_white", height=420, showlegend=False
    )
    return figure
