"""Errors by gold-standard condition; cases corrected and wrongly changed with AI help."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from analysis.frames import CONDITIONS, GROUPS, StudyData, group_reads
from analysis.reports._common import COLORS, GROUP_LABELS, counts
from analysis.reports._common import gettext_noop as _
from analysis.reports.base import Report, ReportFigure, ReportTable

CONDITION_METHODS = _(
    "Counts of severe and non-severe calls per gold-standard condition (a case counts under "
    "its most serious condition; IVH by Papile grade). For a group of readers, every "
    "reader's call counts (reads, not cases). Severe = IVH III–IV, PVL or hydrocephalus."
)
CHANGE_METHODS = _(
    "Per junior reader and case read both alone and with AI: corrected = wrong alone and "
    "right with AI; wrongly changed = right alone and wrong with AI; counted per condition."
)


def errors_report(data: StudyData) -> Report:
    """Severe/non-severe calls per condition and group; corrections with AI help."""
    reads = data.reads
    present = list(CONDITIONS) + sorted(
        set(reads["condition"].dropna().astype(str)) - set(CONDITIONS)
    )
    rows: list[dict[str, Any]] = []
    for condition in present:
        selected = reads[reads["condition"] == condition]
        if selected.empty:
            continue
        row: dict[str, Any] = {
            "condition": condition,
            "severe_truth": bool(selected["truth"].iloc[0]),
            "cases": int(selected["case"].nunique()),
        }
        for group, tier, modality in GROUPS:
            calls = selected[(selected["tier"] == tier) & (selected["modality"] == modality)][
                "decision"
            ]
            row[f"{group}_severe"] = int(calls.sum())
            row[f"{group}_non_severe"] = int((calls == 0).sum())
            row[f"{group}_wrong"] = int((calls != int(row["severe_truth"])).sum())
        rows.append(row)
    by_condition = pd.DataFrame(rows)

    unaided = group_reads(reads, "junior")
    aided = group_reads(reads, "junior_ai").loc[:, ["reader", "case", "decision"]]
    both = unaided.merge(aided, on=["reader", "case"], suffixes=("", "_aided"), how="inner")
    change_rows: list[dict[str, Any]] = []
    if not both.empty:
        right_alone = both["decision"] == both["truth"]
        right_aided = both["decision_aided"] == both["truth"]
        both["corrected"] = ~right_alone & right_aided
        both["wrongly_changed"] = right_alone & ~right_aided
        for condition, part in both.groupby("condition", sort=False):
            change_rows.append(
                {
                    "condition": str(condition),
                    "reads": len(part),
                    "wrong_alone": int((part["decision"] != part["truth"]).sum()),
                    "corrected": int(part["corrected"].sum()),
                    "wrongly_changed": int(part["wrongly_changed"].sum()),
                }
            )
        order = {c: i for i, c in enumerate(present)}
        change_rows.sort(key=lambda r: order.get(r["condition"], len(order)))
        change_rows.append(
            {
                "condition": "total",
                "reads": len(both),
                "wrong_alone": int((both["decision"] != both["truth"]).sum()),
                "corrected": int(both["corrected"].sum()),
                "wrongly_changed": int(both["wrongly_changed"].sum()),
            }
        )
    changes = pd.DataFrame(
        change_rows, columns=["condition", "reads", "wrong_alone", "corrected", "wrongly_changed"]
    )
    n = counts(data)
    n_text = f"{n['cases']} cases, {n['readers']} readers (+ AI), {n['reads']} reads"
    return Report(
        key="errors",
        title=_("Errors by condition"),
        tables=(
            ReportTable(
                "by_condition",
                _("Severe and non-severe calls per gold-standard condition"),
                by_condition,
                CONDITION_METHODS,
                n_text,
            ),
            ReportTable(
                "ai_help",
                _("Junior calls corrected and wrongly changed with AI help"),
                changes,
                CHANGE_METHODS,
                n_text,
            ),
        ),
        figures=(
            ReportFigure(
                "wrong_calls", _("Wrong calls per condition and group"), _figure(by_condition)
            ),
        ),
        methods=f"{CONDITION_METHODS} {CHANGE_METHODS}",
        n=n,
        snapshot=data.snapshot,
    )


def _figure(by_condition: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    if not by_condition.empty:
        for group, _tier, _modality in GROUPS:
            total = by_condition[f"{group}_severe"] + by_condition[f"{group}_non_severe"]
            share = (by_condition[f"{group}_wrong"] / total.where(total > 0)).fillna(0.0)
            figure.add_trace(
                go.Bar(
                    name=GROUP_LABELS[group],
                    x=by_condition["condition"],
                    y=share,
                    marker_color=COLORS[group],
                )
            )
    figure.update_layout(
        barmode="group",
        yaxis={"title": "share of calls wrong", "range": [0, 1]},
        template="plotly_white",
        height=420,
    )
    return figure
