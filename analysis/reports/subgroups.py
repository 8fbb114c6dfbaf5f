"""Subgroups: AUC by probe type and gestational-age group, DeLong tests with BH."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.frames import AI_READER, GROUPS, StudyData
from analysis.reports._common import COLORS, GROUP_LABELS, counts
from analysis.reports._common import gettext_noop as _
from analysis.reports.base import Report, ReportFigure, ReportTable
from analysis.stats import benjamini_hochberg, delong_test_unpaired, has_both_classes, roc_auc

GA_BINS = (0, 28, 32, 37, 99)
GA_LABELS = ("<28 w", "28–31 w", "32–36 w", "≥37 w")
AUC_METHODS = _(
    "Per subgroup: the AI's AUC with DeLong 95 % CI, and the mean over readers of each group's "
    "empirical AUC (descriptive). Subgroups with one truth class only have no AUC."
)
TEST_METHODS = _(
    "The AI's AUC compared between every two levels of a factor with DeLong's test for "
    "independent samples (pROC's convention: Student t with Welch-type df, two-sided); "
    "Benjamini–Hochberg adjustment over all tests of the report (q = 0.05)."
)


def ga_group(weeks: pd.Series) -> pd.Series:
    """Gestational-age group label of each case (<28, 28–31, 32–36, ≥37 weeks)."""
    return pd.cut(weeks.astype(float), bins=GA_BINS, right=False, labels=GA_LABELS).astype(str)


def subgroups_report(data: StudyData) -> Report:
    """AUC per probe type and GA group for the AI and each reader group; DeLong + BH."""
    reads = data.reads.copy()
    reads["ga_group"] = ga_group(reads["ga_weeks"])
    reads.loc[reads["ga_weeks"].isna(), "ga_group"] = "unknown"
    reads["probe_type"] = reads["probe_type"].fillna("").replace("", "unknown")
    auc_rows: list[dict[str, Any]] = []
    test_rows: list[dict[str, Any]] = []
    ai = reads[reads["reader"] == AI_READER]
    for factor in ("probe_type", "ga_group"):
        levels = sorted(
            reads[factor].astype(str).unique(), key=lambda v: (v == "unknown", _ga_order(v))
        )
        samples: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for level in levels:
            part = reads[reads[factor].astype(str) == level]
            row: dict[str, Any] = {
                "factor": factor,
                "level": level,
                "cases": int(part["case"].nunique()),
                "severe": int(part.drop_duplicates("case")["truth"].sum()),
            }
            ai_part = ai[ai[factor].astype(str) == level]
            truth = ai_part["truth"].to_numpy(dtype=int)
            if not ai_part.empty and has_both_classes(truth):
                scores = ai_part["rating"].to_numpy(dtype=float)
                result = roc_auc(truth, scores)
                row |= {
                    "ai_auc": result.auc,
                    "ai_auc_low": result.ci.low,
                    "ai_auc_high": result.ci.high,
                }
                samples[level] = (truth, scores)
            else:
                row |= {"ai_auc": np.nan, "ai_auc_low": np.nan, "ai_auc_high": np.nan}
            for group, tier, modality in GROUPS[:3]:
                readers = part[(part["tier"] == tier) & (part["modality"] == modality)]
                aucs = [
                    roc_auc(r["truth"], r["rating"]).auc
                    for _reader, r in readers.groupby("reader")
                    if has_both_classes(r["truth"].to_numpy(dtype=int))
                ]
                row[f"{group}_mean_auc"] = float(np.mean(aucs)) if aucs else np.nan
            auc_rows.append(row)
        for first, second in combinations([lv for lv in levels if lv in samples], 2):
            (ta, sa), (tb, sb) = samples[first], samples[second]
            try:
                test = delong_test_unpaired(ta, sa, tb, sb)
            except ValueError as exc:
                # Kept, with why: a subgroup with one class has no AUC to compare.
                test_rows.append(
                    {
                        "factor": factor,
                        "level_a": first,
                        "level_b": second,
                        "auc_difference": np.nan,
                        "statistic": np.nan,
                        "df": np.nan,
                        "pvalue": np.nan,
                        "note": str(exc),
                    }
                )
                continue
            test_rows.append(
                {
                    "factor": factor,
                    "level_a": first,
                    "level_b": second,
                    "auc_difference": test.estimate,
                    "statistic": test.statistic,
                    "df": test.df,
                    "pvalue": test.pvalue,
                    "note": "",
                }
            )
    tests = pd.DataFrame(
        test_rows,
        columns=[
            "factor",
            "level_a",
            "level_b",
            "auc_difference",
            "statistic",
            "df",
            "pvalue",
            "note",
        ],
    )
    tests["pvalue_bh"] = np.nan
    tests["significant_bh"] = False
    tested = tests["pvalue"].notna()
    if tested.any():
        # BH over the comparisons that could be made; the others keep their note.
        rejected, adjusted = benjamini_hochberg(
            tests.loc[tested, "pvalue"].to_numpy(dtype=float), q=0.05
        )
        tests.loc[tested, "pvalue_bh"] = adjusted
        tests.loc[tested, "significant_bh"] = rejected.astype(bool)
    aucs = pd.DataFrame(auc_rows)
    n = counts(data)
    n_text = f"{n['cases']} cases, {n['readers']} readers (+ AI)"
    return Report(
        key="subgroups",
        title=_("Subgroup analysis"),
        tables=(
            ReportTable(
                "auc", _("AUC by probe type and gestational-age group"), aucs, AUC_METHODS, n_text
            ),
            ReportTable(
                "tests",
                _("DeLong tests between subgroups (AI), Benjamini–Hochberg"),
                tests,
                TEST_METHODS,
                n_text,
            ),
        ),
        figures=(ReportFigure("forest", _("AUC by subgroup"), _figure(aucs)),),
        methods=f"{AUC_METHODS} {TEST_METHODS}",
        n=n,
        snapshot=data.snapshot,
    )


def _ga_order(level: str) -> int:
    return GA_LABELS.index(level) if level in GA_LABELS else 0


def _figure(aucs: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    if aucs.empty:
        return figure
    labels = [f"{f}: {lv}" for f, lv in zip(aucs["factor"], aucs["level"], strict=True)]
    figure.add_trace(
        go.Scatter(
            x=aucs["ai_auc"],
            y=labels,
            mode="markers",
            name="AI",
            marker={"color": COLORS["ai"], "size": 10},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (aucs["ai_auc_high"] - aucs["ai_auc"]).tolist(),
                "arrayminus": (aucs["ai_auc"] - aucs["ai_auc_low"]).tolist(),
            },
        )
    )
    for group, _tier, _modality in GROUPS[:3]:
        figure.add_trace(
            go.Scatter(
                x=aucs[f"{group}_mean_auc"],
                y=labels,
                mode="markers",
                name=GROUP_LABELS[group],
                marker={"color": COLORS[group]},
            )
        )
    figure.update_layout(
        xaxis={"title": "AUC", "range": [0.4, 1.0]},
        template="plotly_white",
        height=120 + 40 * len(labels),
    )
    return figure
