"""Table 1: the cases' characteristics per dataset, with the tests that compare datasets.

Continuous characteristics as median (IQR), categorical ones as n (%); datasets compared
by Kruskal–Wallis (continuous) and by Pearson's χ², or Fisher's exact test where an
expected count is below 5 (Fisher–Freeman–Halton, Monte Carlo p, for tables larger than
2 × 2). The cases are the analysed ones: included, with a gold standard.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.frames import CONDITIONS, StudyData
from analysis.reports._common import counts
from analysis.reports._common import gettext_noop as _
from analysis.reports.base import Report, ReportFigure, ReportTable
from analysis.stats import contingency_test, kruskal_wallis

#: Continuous characteristics: (column, label).
CONTINUOUS: tuple[tuple[str, str], ...] = (
    ("ga_exact_weeks", "Gestational age (weeks)"),
    ("birth_weight_g", "Birth weight (g)"),
    ("age_at_exam_days", "Age at exam (days)"),
    ("apgar_1min", "Apgar score, 1 min"),
    ("apgar_5min", "Apgar score, 5 min"),
)
#: Categorical characteristics: (column, label).
CATEGORICAL: tuple[tuple[str, str], ...] = (
    ("sex", "Sex"),
    ("probe_type", "Probe type"),
    ("manufacturer", "Manufacturer"),
    ("site", "Site"),
    ("condition", "Condition (gold standard)"),
    ("severity", "Severity (gold standard)"),
)
MISSING = ("unknown", "U", "")
SEX_LABELS = {"F": "female", "M": "male", "U": "unknown"}
N_RESAMPLES = 9999

METHODS = _(
    "Analysed cases (included, with a gold standard) per dataset. Continuous characteristics: "
    "median (IQR), quartiles by linear interpolation (R type 7), missing values left out and "
    "counted; datasets compared by the Kruskal-Wallis rank sum test (tie-corrected, chi-squared "
    "with k - 1 df). Categorical characteristics: n (percentage of the dataset's cases); "
    "unknown values "
    "are shown but left out of the test; datasets compared by Pearson's chi-squared test without "
    "continuity correction when every expected count is at least 5, else by Fisher's exact test "
    "(2 x 2 tables) or the Fisher-Freeman-Halton exact test with a Monte Carlo p-value from 9999 "
    "tables with the observed margins (larger tables); the test column names the one used."
)
VALUES_METHODS = _(
    "The numbers behind Table 1 at full precision: per dataset (and all datasets) and "
    "characteristic, n with a value, n missing, median, 25th and 75th percentiles (continuous), "
    "count and percentage of the dataset's cases (categorical)."
)


def characteristics_report(
    data: StudyData, *, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> Report:
    """Table 1 of the cases of ``data``: a row per characteristic (level), a column per dataset."""
    cases = data.cases.copy()
    notes: list[str] = []
    tables: list[ReportTable] = []
    figures: list[ReportFigure] = []
    if cases.empty:
        notes.append(_("No analysed cases yet."))
    else:
        cases["dataset"] = cases["dataset"].astype(str)
        cases["severity"] = np.where(cases["truth"].astype(int) == 1, "severe", "non-severe")
        if "sex" in cases:
            cases["sex"] = cases["sex"].map(lambda v: SEX_LABELS.get(str(v), str(v)))
        datasets = list(pd.unique(cases["dataset"]))
        display: list[dict[str, Any]] = []
        values: list[dict[str, Any]] = []
        display.append(
            {
                "characteristic": "Cases",
                "level": "n",
                **{d: str(int((cases["dataset"] == d).sum())) for d in datasets},
                "all": str(len(cases)),
                "test": "",
                "statistic": np.nan,
                "df": np.nan,
                "pvalue": np.nan,
            }
        )
        for column, label in CONTINUOUS:
            if column in cases:
                _continuous(cases, column, label, datasets, display, values, notes)
        for column, label in CATEGORICAL:
            if column in cases:
                _categorical(
                    cases, column, label, datasets, display, values, notes, n_resamples, seed
                )
        n_text = f"{len(cases)} cases in {len(datasets)} datasets"
        tables.append(
            ReportTable(
                "table1",
                _("Table 1: case characteristics per dataset"),
                pd.DataFrame(display),
                METHODS,
                n_text,
            )
        )
        tables.append(
            ReportTable(
                "values", _("Table 1, the numbers"), pd.DataFrame(values), VALUES_METHODS, n_text
            )
        )
        figures.append(
            ReportFigure(
                "conditions", _("Conditions per dataset"), _conditions_figure(cases, datasets)
            )
        )
    return Report(
        key="characteristics",
        title=_("Case characteristics (Table 1)"),
        tables=tuple(tables),
        figures=tuple(figures),
        methods=" ".join((METHODS, VALUES_METHODS)),
        n=counts(data) | {"analysed_cases": len(cases)},
        snapshot=data.snapshot,
        notes=tuple(notes),
    )


def _summary(values: np.ndarray) -> tuple[float, float, float]:
    if values.size == 0:
        return np.nan, np.nan, np.nan
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return float(median), float(q1), float(q3)


def _continuous(
    cases: pd.DataFrame,
    column: str,
    label: str,
    datasets: list[str],
    display: list[dict[str, Any]],
    values: list[dict[str, Any]],
    notes: list[str],
) -> None:
    numbers = pd.to_numeric(cases[column], errors="coerce").astype(float)
    if numbers.notna().sum() == 0:
        return
    row: dict[str, Any] = {"characteristic": label, "level": "median (IQR)"}
    samples = []
    for dataset in [*datasets, "all"]:
        part = numbers if dataset == "all" else numbers[cases["dataset"] == dataset]
        present = part.dropna().to_numpy(dtype=float)
        median, q1, q3 = _summary(present)
        missing = int(part.isna().sum())
        text = f"{median:.1f} ({q1:.1f}–{q3:.1f})" if present.size else "–"
        row[dataset] = text + (f"; {missing} missing" if missing else "")
        values.append(
            {
                "characteristic": label,
                "level": "",
                "dataset": dataset,
                "n": int(present.size),
                "missing": missing,
                "median": median,
                "q1": q1,
                "q3": q3,
                "count": np.nan,
                "percent": np.nan,
            }
        )
        if dataset != "all" and present.size:
            samples.append(present)
    row |= _test(lambda: kruskal_wallis(*samples), label, notes) if len(samples) > 1 else _no_test()
    display.append(row)


def _levels(column: str, observed: list[str]) -> list[str]:
    if column == "condition":
        return [c for c in CONDITIONS if c in observed] + sorted(set(observed) - set(CONDITIONS))
    if column == "severity":
        return [s for s in ("severe", "non-severe") if s in observed]
    known = sorted(v for v in observed if v not in MISSING)
    return known + [v for v in ("unknown",) if v in observed]


def _categorical(
    cases: pd.DataFrame,
    column: str,
    label: str,
    datasets: list[str],
    display: list[dict[str, Any]],
    values: list[dict[str, Any]],
    notes: list[str],
    n_resamples: int,
    seed: int,
) -> None:
    labels = cases[column].fillna("unknown").astype(str).replace("", "unknown")
    levels = _levels(column, list(pd.unique(labels)))
    table = pd.crosstab(labels, cases["dataset"]).reindex(
        index=levels, columns=datasets, fill_value=0
    )
    totals = cases["dataset"].value_counts()
    tested = table.drop(index=[v for v in MISSING if v in table.index])
    tested = tested.loc[tested.sum(axis=1) > 0, tested.sum(axis=0) > 0]
    if tested.shape[0] > 1 and tested.shape[1] > 1:
        test = _test(
            lambda: contingency_test(tested.to_numpy().T, n_resamples=n_resamples, seed=seed),
            label,
            notes,
        )
    else:
        test = _no_test()
    for i, level in enumerate(levels):
        row: dict[str, Any] = {"characteristic": label, "level": level}
        for dataset in [*datasets, "all"]:
            count = (
                int(table.loc[level].sum()) if dataset == "all" else int(table.loc[level, dataset])
            )
            total = len(cases) if dataset == "all" else int(totals[dataset])
            percent = 100.0 * count / total if total else np.nan
            row[dataset] = f"{count} ({percent:.1f} %)"
            values.append(
                {
                    "characteristic": label,
                    "level": level,
                    "dataset": dataset,
                    "n": total,
                    "missing": np.nan,
                    "median": np.nan,
                    "q1": np.nan,
                    "q3": np.nan,
                    "count": count,
                    "percent": percent,
                }
            )
        row |= test if i == 0 else _no_test()
        display.append(row)


def _no_test() -> dict[str, Any]:
    return {"test": "", "statistic": np.nan, "df": np.nan, "pvalue": np.nan}


def _test(run: Any, label: str, notes: list[str]) -> dict[str, Any]:
    try:
        result = run()
    except ValueError as exc:
        notes.append(f"{label}: {exc}")
        return _no_test()
    return {
        "test": result.method,
        "statistic": result.statistic,
        "df": result.df if result.df is not None else np.nan,
        "pvalue": result.pvalue,
    }


def _conditions_figure(cases: pd.DataFrame, datasets: list[str]) -> go.Figure:
    """Share of each dataset's cases per gold-standard condition."""
    figure = go.Figure()
    levels = _levels("condition", list(pd.unique(cases["condition"].astype(str))))
    for dataset in datasets:
        part = cases.loc[cases["dataset"] == dataset, "condition"].astype(str)
        shares = part.value_counts(normalize=True).reindex(levels, fill_value=0.0) * 100.0
        figure.add_trace(go.Bar(name=dataset, x=levels, y=shares.to_numpy(dtype=float)))
    figure.update_layout(
        barmode="group",
        template="plotly_white",
        height=420,
        yaxis_title="per cent of the dataset's cases",
        xaxis_title="condition",
    )
    return figure
