"""Reports in the reader's language: titles, methods, notes, column headers and figure texts.

The report modules are pure and write English (their strings marked with ``gettext_noop``);
a computed report is cached once for every language. The pages and the exports translate a
report when they hand it out: :func:`localize_report` under the active language (the user's,
or the ``lang`` parameter of an export, :func:`export_language`).

Column headers are identifiers (``auc_low``); in English they stay as they are, so the
files scripts read do not change, and other languages get a label (``pgettext`` with the
context "report column"; an identifier without a translation stays as it is).
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from django.conf import settings
from django.http import HttpRequest
from django.utils import translation
from django.utils.translation import gettext, gettext_noop, pgettext, pgettext_lazy

from analysis.reports.base import Report, ReportFigure, ReportTable

COLUMN_CONTEXT = "report column"

#: Every column identifier the reports write, marked for extraction.
COLUMNS = (
    pgettext_lazy("report column", "F"),
    pgettext_lazy("report column", "accuracy"),
    pgettext_lazy("report column", "agreement"),
    pgettext_lazy("report column", "ai_auc"),
    pgettext_lazy("report column", "ai_auc_high"),
    pgettext_lazy("report column", "ai_auc_low"),
    pgettext_lazy("report column", "ai_non_severe"),
    pgettext_lazy("report column", "ai_severe"),
    pgettext_lazy("report column", "ai_wrong"),
    pgettext_lazy("report column", "aided"),
    pgettext_lazy("report column", "alone"),
    pgettext_lazy("report column", "arm"),
    pgettext_lazy("report column", "auc"),
    pgettext_lazy("report column", "auc_difference"),
    pgettext_lazy("report column", "auc_high"),
    pgettext_lazy("report column", "auc_low"),
    pgettext_lazy("report column", "boot_high"),
    pgettext_lazy("report column", "boot_low"),
    pgettext_lazy("report column", "cases"),
    pgettext_lazy("report column", "changed"),
    pgettext_lazy("report column", "chi2"),
    pgettext_lazy("report column", "chi2_between_arms"),
    pgettext_lazy("report column", "ci_high"),
    pgettext_lazy("report column", "ci_low"),
    pgettext_lazy("report column", "condition"),
    pgettext_lazy("report column", "correct"),
    pgettext_lazy("report column", "corrected"),
    pgettext_lazy("report column", "cov1"),
    pgettext_lazy("report column", "cov2"),
    pgettext_lazy("report column", "cov3"),
    pgettext_lazy("report column", "criterion"),
    pgettext_lazy("report column", "dataset"),
    pgettext_lazy("report column", "design"),
    pgettext_lazy("report column", "delta_ci_high"),
    pgettext_lazy("report column", "delta_ci_low"),
    pgettext_lazy("report column", "df"),
    pgettext_lazy("report column", "df_den"),
    pgettext_lazy("report column", "df_num"),
    pgettext_lazy("report column", "difference"),
    pgettext_lazy("report column", "dont_know"),
    pgettext_lazy("report column", "effect"),
    pgettext_lazy("report column", "endpoint"),
    pgettext_lazy("report column", "estimate"),
    pgettext_lazy("report column", "f1"),
    pgettext_lazy("report column", "f1_high"),
    pgettext_lazy("report column", "f1_low"),
    pgettext_lazy("report column", "factor"),
    pgettext_lazy("report column", "fpr"),
    pgettext_lazy("report column", "group"),
    pgettext_lazy("report column", "guess_ai"),
    pgettext_lazy("report column", "guess_dont_know"),
    pgettext_lazy("report column", "guess_junior"),
    pgettext_lazy("report column", "index"),
    pgettext_lazy("report column", "initial_accuracy"),
    pgettext_lazy("report column", "junior_ai_mean_auc"),
    pgettext_lazy("report column", "junior_ai_non_severe"),
    pgettext_lazy("report column", "junior_ai_severe"),
    pgettext_lazy("report column", "junior_ai_wrong"),
    pgettext_lazy("report column", "junior_mean_auc"),
    pgettext_lazy("report column", "junior_non_severe"),
    pgettext_lazy("report column", "junior_severe"),
    pgettext_lazy("report column", "junior_wrong"),
    pgettext_lazy("report column", "kappa"),
    pgettext_lazy("report column", "kappa_high"),
    pgettext_lazy("report column", "kappa_low"),
    pgettext_lazy("report column", "level"),
    pgettext_lazy("report column", "level_a"),
    pgettext_lazy("report column", "level_b"),
    pgettext_lazy("report column", "mean"),
    pgettext_lazy("report column", "mean_auc_aided"),
    pgettext_lazy("report column", "mean_auc_unaided"),
    pgettext_lazy("report column", "mean_delta"),
    pgettext_lazy("report column", "mean_difference"),
    pgettext_lazy("report column", "mean_s"),
    pgettext_lazy("report column", "median_s"),
    pgettext_lazy("report column", "method"),
    pgettext_lazy("report column", "metric"),
    pgettext_lazy("report column", "mid_level_mean_auc"),
    pgettext_lazy("report column", "mid_level_non_severe"),
    pgettext_lazy("report column", "mid_level_severe"),
    pgettext_lazy("report column", "mid_level_wrong"),
    pgettext_lazy("report column", "note"),
    pgettext_lazy("report column", "npv"),
    pgettext_lazy("report column", "npv_high"),
    pgettext_lazy("report column", "npv_low"),
    pgettext_lazy("report column", "panel"),
    pgettext_lazy("report column", "panel_mean_auc"),
    pgettext_lazy("report column", "pct_ai"),
    pgettext_lazy("report column", "pct_dont_know"),
    pgettext_lazy("report column", "pct_junior"),
    pgettext_lazy("report column", "power"),
    pgettext_lazy("report column", "ppv"),
    pgettext_lazy("report column", "ppv_high"),
    pgettext_lazy("report column", "ppv_low"),
    pgettext_lazy("report column", "pvalue"),
    pgettext_lazy("report column", "pvalue_between_arms"),
    pgettext_lazy("report column", "pvalue_bh"),
    pgettext_lazy("report column", "pvalue_one_sided"),
    pgettext_lazy("report column", "rate"),
    pgettext_lazy("report column", "rater"),
    pgettext_lazy("report column", "rater_a"),
    pgettext_lazy("report column", "rater_b"),
    pgettext_lazy("report column", "reader"),
    pgettext_lazy("report column", "reader_auc"),
    pgettext_lazy("report column", "readers"),
    pgettext_lazy("report column", "reads"),
    pgettext_lazy("report column", "reviews"),
    pgettext_lazy("report column", "row"),
    pgettext_lazy("report column", "sd"),
    pgettext_lazy("report column", "sd_s"),
    pgettext_lazy("report column", "secondary_correct"),
    pgettext_lazy("report column", "sensitivity"),
    pgettext_lazy("report column", "sensitivity_high"),
    pgettext_lazy("report column", "sensitivity_low"),
    pgettext_lazy("report column", "severe"),
    pgettext_lazy("report column", "severe_truth"),
    pgettext_lazy("report column", "significant_bh"),
    pgettext_lazy("report column", "specificity"),
    pgettext_lazy("report column", "specificity_high"),
    pgettext_lazy("report column", "specificity_low"),
    pgettext_lazy("report column", "statistic"),
    pgettext_lazy("report column", "t"),
    pgettext_lazy("report column", "test"),
    pgettext_lazy("report column", "threshold"),
    pgettext_lazy("report column", "tpr"),
    pgettext_lazy("report column", "unaided"),
    pgettext_lazy("report column", "var_error"),
    pgettext_lazy("report column", "var_r"),
    pgettext_lazy("report column", "var_tr"),
    pgettext_lazy("report column", "welch_t"),
    pgettext_lazy("report column", "wilcoxon_v"),
    pgettext_lazy("report column", "with_ai"),
    pgettext_lazy("report column", "wrong"),
    pgettext_lazy("report column", "wrong_alone"),
    pgettext_lazy("report column", "wrongly_changed"),
    pgettext_lazy("report column", "z"),
    pgettext_lazy("report column", "characteristic"),
    pgettext_lazy("report column", "all"),
    pgettext_lazy("report column", "n"),
    pgettext_lazy("report column", "missing"),
    pgettext_lazy("report column", "median"),
    pgettext_lazy("report column", "q1"),
    pgettext_lazy("report column", "q3"),
    pgettext_lazy("report column", "count"),
    pgettext_lazy("report column", "percent"),
    pgettext_lazy("report column", "q1_s"),
    pgettext_lazy("report column", "q3_s"),
    pgettext_lazy("report column", "group_mean_s"),
    pgettext_lazy("report column", "ai_mean_s"),
    pgettext_lazy("report column", "group_median_s"),
    pgettext_lazy("report column", "ai_median_s"),
    pgettext_lazy("report column", "mann_whitney_u"),
    pgettext_lazy("report column", "pvalue_mann_whitney"),
    pgettext_lazy("report column", "pvalue_welch"),
    pgettext_lazy("report column", "unaided_mean_s"),
    pgettext_lazy("report column", "aided_mean_s"),
    pgettext_lazy("report column", "median_difference"),
)

#: The texts of the figures (axis titles, legend entries, subplot titles) the reports draw.
FIGURE_TEXTS = (
    gettext_noop("1 − specificity"),
    gettext_noop("sensitivity"),
    gettext_noop("AUC alone"),
    gettext_noop("AUC with AI"),
    gettext_noop("Cohen's κ vs AI"),
    gettext_noop("mean score"),
    gettext_noop("share of calls wrong"),
    gettext_noop("Junior"),
    gettext_noop("Mid-level"),
    gettext_noop("Junior with AI"),
    gettext_noop("junior readers"),
    gettext_noop("guessed ai"),
    gettext_noop("guessed junior"),
    gettext_noop("guessed dont_know"),
    gettext_noop("junior"),
    gettext_noop("ai"),
    gettext_noop("Secondary read time (s)"),
    gettext_noop("Source guesses"),
    gettext_noop("Bang's blinding index (95 % CI)"),
    gettext_noop("Bang's blinding index"),
    gettext_noop("Wald CI"),
    gettext_noop("bootstrap CI"),
    gettext_noop("ideal blinding (−0.2 to 0.2)"),
    gettext_noop("true source"),
    gettext_noop("seconds per read"),
    gettext_noop("AI"),
    gettext_noop("condition"),
    gettext_noop("per cent of the dataset's cases"),
)


def export_language(request: HttpRequest) -> str:
    """The language of an export: its ``lang`` parameter (``?lang=zh-hans``) if the site
    has it, else the active one (the user's choice or his browser's)."""
    wanted = (request.GET.get("lang") or "").lower()
    if wanted in dict(settings.LANGUAGES):
        return wanted
    return translation.get_language() or settings.LANGUAGE_CODE


def column_label(column: Any) -> str:
    """A column header in the active language (the identifier itself in English)."""
    return pgettext(COLUMN_CONTEXT, str(column))


def _text(value: str | None) -> str | None:
    return gettext(value) if value else value


def localize_figure(figure: go.Figure, title: str | None = None) -> go.Figure:
    """A copy of ``figure`` with its title, axis titles, legend entries and subplot titles
    translated where the catalog has them (data such as dataset or reader names stay)."""
    figure = go.Figure(figure)
    if figure.layout.title and figure.layout.title.text:
        figure.update_layout(title={"text": _text(figure.layout.title.text)})
    if title:
        figure.update_layout(title={"text": title})
    figure.for_each_xaxis(
        lambda axis: axis.update(title_text=_text(axis.title.text)) if axis.title.text else None
    )
    figure.for_each_yaxis(
        lambda axis: axis.update(title_text=_text(axis.title.text)) if axis.title.text else None
    )
    figure.for_each_trace(
        lambda trace: trace.update(name=_text(trace.name)) if trace.name else None
    )
    figure.for_each_annotation(
        lambda note: note.update(text=_text(note.text)) if note.text else None
    )
    return figure


def localize_report(report: Report) -> Report:
    """``report`` in the active language: titles, methods, notes, column headers, figures."""
    methods = gettext(report.methods) if report.methods else report.methods
    for table in report.tables:  # a report's methods are its tables' methods, joined
        if table.methods and table.methods in methods:
            methods = methods.replace(table.methods, gettext(table.methods))
    tables = tuple(
        ReportTable(
            name=table.name,
            title=_text(table.title) or "",
            frame=table.frame.rename(columns=column_label),
            methods=_text(table.methods) or "",
            n=table.n,
        )
        for table in report.tables
    )
    figures = tuple(
        ReportFigure(figure.name, _text(figure.title) or "", localize_figure(figure.figure))
        for figure in report.figures
    )
    return Report(
        key=report.key,
        title=_text(report.title) or "",
        tables=tables,
        figures=figures,
        methods=methods,
        n=dict(report.n),
        snapshot=report.snapshot,
        notes=tuple(_text(note) or "" for note in report.notes),
    )
