"""The study reports: pure computation from :class:`analysis.frames.StudyData`, no Django.

One module per report; each returns a frozen :class:`Report` whose every table states
its methods, its n and the snapshot hash of the data it was computed from.
:data:`REPORTS` lists them for the pages, the API, the jobs and the exports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from analysis.frames import StudyData
from analysis.reports._common import gettext_noop as _
from analysis.reports.agreement import agreement_report
from analysis.reports.base import Report, ReportFigure, ReportTable
from analysis.reports.blinded import blinded_report
from analysis.reports.characteristics import characteristics_report
from analysis.reports.errors import errors_report
from analysis.reports.mrmc import mrmc_report
from analysis.reports.performance import performance_report
from analysis.reports.qualitative import qualitative_report
from analysis.reports.read_time import read_time_report
from analysis.reports.roc import roc_report
from analysis.reports.subgroups import subgroups_report

__all__ = ["REPORTS", "Report", "ReportFigure", "ReportSpec", "ReportTable", "run_report"]


@dataclass(frozen=True)
class ReportSpec:
    """A report: its key, title, function, whether it waits for unblinding, whether heavy.

    ``reveals_allocation``: the report shows which material came from which source (the
    allocation of the blinded trial), so it is refused until the study is unblinded.
    ``heavy``: run as a Celery job with progress rather than inside a request.
    ``resampled``: the function takes ``n_resamples`` and ``seed``.
    """

    key: str
    title: str
    function: Callable[..., Report]
    reveals_allocation: bool = False
    heavy: bool = False
    resampled: bool = False


REPORTS: dict[str, ReportSpec] = {
    spec.key: spec
    for spec in (
        ReportSpec("characteristics", _("Case characteristics (Table 1)"), characteristics_report),
        ReportSpec(
            "performance",
            _("Diagnostic performance"),
            performance_report,
            heavy=True,
            resampled=True,
        ),
        ReportSpec("roc", _("ROC curves and reader operating points"), roc_report),
        ReportSpec("agreement", _("Inter-reader agreement"), agreement_report, resampled=True),
        ReportSpec("errors", _("Errors by condition"), errors_report),
        ReportSpec("read_time", _("Read time"), read_time_report),
        ReportSpec(
            "blinded",
            _("Blinded source trial"),
            blinded_report,
            reveals_allocation=True,
            heavy=True,
            resampled=True,
        ),
        ReportSpec("qualitative", _("Qualitative assessment"), qualitative_report),
        ReportSpec("subgroups", _("Subgroup analysis"), subgroups_report),
        ReportSpec("mrmc", _("MRMC analysis"), mrmc_report, heavy=True),
    )
}


def run_report(
    key: str, data: StudyData, *, n_resamples: int = 2000, seed: int = 0, **options: Any
) -> Report:
    """Compute report ``key`` from ``data``; ``KeyError`` for an unknown key."""
    spec = REPORTS[key]
    if spec.resampled:
        options |= {"n_resamples": n_resamples, "seed": seed}
    return spec.function(data, **options)
