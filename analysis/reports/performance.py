"""Diagnostic performance (the paper's Table 2), reader-level ΔAUC and per-reader table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.frames import StudyData, group_reads, rating_matrix, reader_case_matrices
from analysis.reports._common import (
    COLORS,
    GROUP_LABELS,
    LEVEL,
    ci_cols,
    counts,
    read_datasets,
)
from analysis.reports._common import gettext_noop as _
from analysis.reports.base import Report, ReportFigure, ReportTable
from analysis.reports.scores import score_notes
from analysis.stats import (
    BINARY_METRICS,
    BinaryMetrics,
    binary_metrics,
    binary_metrics_by_reader,
    delong_test,
    delong_test_mean,
    has_both_classes,
    reader_case_bootstrap,
    reader_case_bootstrap_metrics,
    roc_auc,
    wilcoxon_signed_rank,
)

METRICS = ("sensitivity", "specificity", "ppv", "npv", "f1", "auc")
TABLE2_METHODS = _(
    "Positive class = severe. Groups of readers: the mean over readers of each metric, with "
    "a 95 % two-way (reader × case, cases resampled within truth class) percentile bootstrap "
    "CI; AUC is the empirical (ties ½) area under each reader's ROC curve of the 0–100 "
    "rating. The AI (one reader): Clopper–Pearson CIs for Se, Sp, PPV, NPV, percentile "
    "case bootstrap for F1, DeLong CI for the AUC of its probability."
)
DELTA_METHODS = _(
    "Reader-level ΔAUC = AUC(junior with AI) − AUC(junior alone) per junior reader; mean "
    "with a paired two-way bootstrap CI; paired one-sided Wilcoxon signed-rank test "
    "(H1: ΔAUC > 0; exact null distribution for < 50 readers without ties)."
)
DELONG_METHODS = _(
    "Each reader against the AI on the same cases (the cases the reader and the AI both "
    "read): AUC of the reader's 0–100 rating minus AUC of the AI's probability, DeLong's "
    "paired test (two-sided Z, 95 % CI of the difference; pROC's roc.test(paired = TRUE)). "
    "'mean of readers': the mean AUC of the group's readers minus the AI's AUC, over the "
    "cases every reader of the group read, with the DeLong covariance of all the AUCs. "
    "Readers are fixed here (case variability only); the MRMC report treats them as random."
)
READER_METHODS = _(
    "Per reader: Se, Sp, PPV, NPV with Clopper–Pearson 95 % CIs, F1 with a percentile case "
    "bootstrap CI (2,000 resamples, seeded), AUC with DeLong 95 % CI."
)


def _metric_cols(metrics: BinaryMetrics) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in BINARY_METRICS:
        estimate = getattr(metrics, name)
        row |= ci_cols(name, estimate.value, estimate.ci)
    return row


def _ai_row(
    dataset: str,
    reader: str,
    decisions: np.ndarray,
    ratings: np.ndarray,
    truth: np.ndarray,
    n_resamples: int,
    seed: int,
) -> dict[str, Any]:
    metrics = binary_metrics(truth, decisions, level=LEVEL, seed=seed, n_resamples=n_resamples)
    row: dict[str, Any] = {
        "dataset": dataset,
        "group": "ai",
        "reader": reader,
        "cases": int(truth.size),
    }
    row |= _metric_cols(metrics)
    auc = roc_auc(truth, ratings, level=LEVEL)
    row |= ci_cols("auc", auc.auc, auc.ci)
    return row


def _group_rows(
    dataset: str,
    group: str,
    readers: list[str],
    decisions: np.ndarray,
    ratings: np.ndarray,
    truth: np.ndarray,
    n_resamples: int,
    seed: int,
) -> list[dict[str, Any]]:
    per = binary_metrics_by_reader(
        truth, decisions, level=LEVEL, n_resamples=n_resamples, seed=seed
    )
    rows = []
    for i, reader in enumerate(readers):
        row: dict[str, Any] = {
            "dataset": dataset,
            "group": group,
            "reader": reader,
            "cases": int(truth.size),
        }
        row |= _metric_cols(per[i])
        auc = roc_auc(truth, ratings[i], level=LEVEL)
        row |= ci_cols("auc", auc.auc, auc.ci)
        rows.append(row)
    return rows


def performance_report(data: StudyData, *, n_resamples: int = 2000, seed: int = 0) -> Report:
    """Se, Sp, PPV, NPV, F1 and AUC per group and dataset; ΔAUC; per-reader table."""
    table2: list[dict[str, Any]] = []
    per_reader: list[dict[str, Any]] = []
    deltas: list[dict[str, Any]] = []
    versus_ai: list[dict[str, Any]] = []
    notes: list[str] = []
    for dataset in read_datasets(data):
        for group in ("junior", "mid_level", "junior_ai", "ai"):
            rows = group_reads(data.reads, group, dataset)
            if rows.empty:
                continue
            matrices, truth, readers, cases = reader_case_matrices(rows)
            ratings, decisions = matrices["rating"], matrices["decision"]
            if not has_both_classes(truth):
                notes.append(f"{dataset} / {group}: one truth class only; skipped.")
                continue
            if group == "ai":
                reader_rows = [
                    _ai_row(dataset, readers[0], decisions[0], ratings[0], truth, n_resamples, seed)
                ]
            else:
                reader_rows = _group_rows(
                    dataset, group, readers, decisions, ratings, truth, n_resamples, seed
                )
            per_reader.extend(reader_rows)
            base = {
                "dataset": dataset,
                "group": group,
                "readers": len(readers),
                "cases": len(cases),
            }
            if len(readers) == 1:
                only = reader_rows[0]
                boot = {m: (only[m], only[f"{m}_low"], only[f"{m}_high"]) for m in METRICS}
            else:
                found = reader_case_bootstrap_metrics(
                    truth,
                    ratings=ratings,
                    calls=decisions,
                    metrics=METRICS,
                    n_resamples=n_resamples,
                    level=LEVEL,
                    seed=seed,
                )
                boot = {m: (e.value, e.ci.low, e.ci.high) for m, e in found.items()}
            for metric in METRICS:
                value, low, high = boot[metric]
                table2.append(
                    base | {"metric": metric, "estimate": value, "ci_low": low, "ci_high": high}
                )
        deltas.extend(_delta_auc(data, dataset, n_resamples, seed))
        versus_ai.extend(_delong_vs_ai(data, dataset))

    table2_frame = pd.DataFrame(
        table2,
        columns=["dataset", "group", "readers", "cases", "metric", "estimate", "ci_low", "ci_high"],
    )
    reader_frame = pd.DataFrame(per_reader)
    delta_frame = pd.DataFrame(
        deltas,
        columns=[
            "dataset",
            "readers",
            "cases",
            "mean_auc_unaided",
            "mean_auc_aided",
            "mean_delta",
            "delta_ci_low",
            "delta_ci_high",
            "wilcoxon_v",
            "pvalue_one_sided",
            "test",
        ],
    )
    delong_frame = pd.DataFrame(versus_ai, columns=list(DELONG_COLUMNS))
    n = counts(data)
    n_text = f"{n['cases']} cases, {n['readers']} readers (+ AI), {n['reads']} reads"
    return Report(
        key="performance",
        title=_("Diagnostic performance"),
        tables=(
            ReportTable(
                "table2",
                _("Table 2: diagnostic performance per group and dataset"),
                table2_frame,
                TABLE2_METHODS,
                n_text,
            ),
            ReportTable(
                "delta_auc",
                _("Reader-level ΔAUC, junior with vs without AI"),
                delta_frame,
                DELTA_METHODS,
                n_text,
            ),
            ReportTable(
                "delong_vs_ai",
                _("Readers against the AI on the same cases: paired DeLong tests"),
                delong_frame,
                DELONG_METHODS,
                n_text,
            ),
            ReportTable(
                "per_reader",
                _("Supplementary: performance of each reader"),
                reader_frame,
                READER_METHODS,
                n_text,
            ),
        ),
        figures=(ReportFigure("auc_bars", _("AUC per group and dataset"), _figure(table2_frame)),),
        methods=" ".join((TABLE2_METHODS, DELTA_METHODS, DELONG_METHODS, READER_METHODS)),
        n=n,
        snapshot=data.snapshot,
        notes=(*score_notes(data), *notes),
    )


def _delta_auc(data: StudyData, dataset: str, n_resamples: int, seed: int) -> list[dict[str, Any]]:
    unaided = group_reads(data.reads, "junior", dataset)
    aided = group_reads(data.reads, "junior_ai", dataset)
    if unaided.empty or aided.empty:
        return []
    r_u, truth, readers_u, cases_u = rating_matrix(unaided)
    r_a, _truth, readers_a, cases_a = rating_matrix(aided)
    readers = sorted(set(readers_u) & set(readers_a))
    cases = sorted(set(cases_u) & set(cases_a))
    if len(readers) < 2 or not cases:
        return []
    iu = [readers_u.index(r) for r in readers]
    ia = [readers_a.index(r) for r in readers]
    cu = [cases_u.index(c) for c in cases]
    ca = [cases_a.index(c) for c in cases]
    unaided_m = r_u[np.ix_(iu, cu)]
    aided_m = r_a[np.ix_(ia, ca)]
    truth = truth[cu]
    if not has_both_classes(truth):
        return []
    auc_u = np.array([roc_auc(truth, row).auc for row in unaided_m])
    auc_a = np.array([roc_auc(truth, row).auc for row in aided_m])
    diff = auc_a - auc_u
    paired = reader_case_bootstrap(
        np.stack([aided_m, unaided_m]), truth, metric="auc", n_resamples=n_resamples, seed=seed
    )
    if np.any(diff != 0):
        test = wilcoxon_signed_rank(diff, alternative="greater")
        v, p, method = test.statistic, test.pvalue, test.method
    else:
        v, p, method = np.nan, np.nan, "Wilcoxon signed rank (all differences zero: undefined)"
    return [
        {
            "dataset": dataset,
            "readers": len(readers),
            "cases": len(cases),
            "mean_auc_unaided": float(auc_u.mean()),
            "mean_auc_aided": float(auc_a.mean()),
            "mean_delta": float(diff.mean()),
            "delta_ci_low": paired.ci.low,
            "delta_ci_high": paired.ci.high,
            "wilcoxon_v": v,
            "pvalue_one_sided": p,
            "test": method,
        }
    ]


DELONG_COLUMNS = (
    "dataset",
    "group",
    "reader",
    "readers",
    "cases",
    "reader_auc",
    "ai_auc",
    "difference",
    "ci_low",
    "ci_high",
    "z",
    "pvalue",
    "test",
)


def _delong_vs_ai(data: StudyData, dataset: str) -> list[dict[str, Any]]:
    """Paired DeLong: each reader, and each group's reader mean, against the AI on shared cases."""
    ai = group_reads(data.reads, "ai", dataset)
    if ai.empty:
        return []
    ai_rating = (
        ai.assign(case=ai["case"].astype(str)).drop_duplicates("case").set_index("case")["rating"]
    )
    rows: list[dict[str, Any]] = []
    for group in ("junior", "mid_level", "junior_ai"):
        reads = group_reads(data.reads, group, dataset)
        reads = reads[reads["case"].astype(str).isin(ai_rating.index)]
        if reads.empty:
            continue
        for reader, answers in reads.groupby("reader", sort=True):
            truth = answers["truth"].to_numpy(dtype=int)
            if not has_both_classes(truth):
                continue
            model = ai_rating.reindex(answers["case"].astype(str)).to_numpy(dtype=float)
            rows.append(
                _delong_row(
                    dataset,
                    group,
                    str(reader),
                    1,
                    truth,
                    delong_test(truth, answers["rating"].to_numpy(dtype=float), model),
                    roc_auc(truth, answers["rating"]).auc,
                    roc_auc(truth, model).auc,
                )
            )
        ratings, truth, readers, cases = rating_matrix(reads)
        if len(readers) < 2 or not has_both_classes(truth):
            continue
        model = ai_rating.reindex(cases).to_numpy(dtype=float)
        test = delong_test_mean(truth, ratings, model)
        mean_auc = float(np.mean([roc_auc(truth, row).auc for row in ratings]))
        rows.append(
            _delong_row(
                dataset,
                group,
                "mean of readers",
                len(readers),
                truth,
                test,
                mean_auc,
                roc_auc(truth, model).auc,
            )
        )
    return rows


def _delong_row(
    dataset: str,
    group: str,
    reader: str,
    readers: int,
    truth: np.ndarray,
    test: Any,
    reader_auc: float,
    ai_auc: float,
) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "group": group,
        "reader": reader,
        "readers": readers,
        "cases": int(truth.size),
        "reader_auc": reader_auc,
        "ai_auc": ai_auc,
        "difference": test.estimate,
        "ci_low": test.ci.low,
        "ci_high": test.ci.high,
        "z": test.statistic,
        "pvalue": test.pvalue,
        "test": test.method,
    }


def _figure(table2: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    aucs = table2[table2["metric"] == "auc"]
    for group, rows in aucs.groupby("group", sort=False):
        figure.add_trace(
            go.Bar(
                name=GROUP_LABELS.get(str(group), str(group)),
                x=rows["dataset"],
                y=rows["estimate"],
                marker_color=COLORS.get(str(group)),
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": (rows["ci_high"] - rows["estimate"]).tolist(),
                    "arrayminus": (rows["estimate"] - rows["ci_low"]).tolist(),
                },
            )
        )
    figure.update_layout(
        barmode="group",
        yaxis={"title": "AUC", "range": [0.5, 1.0]},
        template="plotly_white",
        height=420,
    )
    return figure
