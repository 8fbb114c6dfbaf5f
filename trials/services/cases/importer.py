"""The all-or-nothing manifest import: a dry run that reports every problem, then the writes."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.labels import View
from trials.audit import audit_record
from trials.models import Asset, AuditAction, Dataset, Orientation, Site, Study, StudyStatus
from trials.services.cases.assets import asset_ingest
from trials.services.cases.case import case_create
from trials.services.cases.manifest import IMPORT_COLUMNS, ImportProblem, PlannedCase, parse_row


@dataclass
class ImportReport:
    """What an import found and (when not a dry run and clean) created."""

    rows: int = 0
    problems: list[ImportProblem] = field(default_factory=list)
    created_cases: int = 0
    created_assets: int = 0
    dry_run: bool = True

    @property
    def ok(self) -> bool:
        """No problem was found."""
        return not self.problems


def case_import(*, actor: Any, study: Study, manifest: Path, dry_run: bool = True) -> ImportReport:
    """Import cases from a manifest CSV whose file paths are relative to it.

    The dry run reports every problem with its row and column before anything is
    written; the import itself is all-or-nothing.
    """
    report = ImportReport(dry_run=dry_run)
    if study.status not in (StudyStatus.DRAFT, StudyStatus.OPEN):
        report.problems.append(ImportProblem(0, "", _("The study is closed to new cases.")))
        return report
    try:
        text = manifest.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        report.problems.append(ImportProblem(0, "", _("Cannot read the manifest: %s") % exc))
        return report
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    for required in ("code", "dataset", "dataset_kind", "conditions"):
        if required not in header:
            report.problems.append(ImportProblem(0, required, _("missing column")))
    unknown = [c for c in header if c not in IMPORT_COLUMNS]
    for column in unknown:
        report.problems.append(ImportProblem(0, column, _("unknown column")))
    if report.problems:
        return report
    planned: list[PlannedCase] = []
    seen_codes: dict[str, int] = {}
    existing = set(study.cases.values_list("code", flat=True))
    datasets = {d.name: d for d in study.datasets.all()}
    for number, row in enumerate(reader, start=1):
        report.rows += 1
        plan = parse_row(number, row, manifest.parent, report.problems)
        if plan is None:
            continue
        if plan.code in seen_codes:
            report.problems.append(
                ImportProblem(number, "code", _("duplicate of row %d") % seen_codes[plan.code])
            )
            continue
        if plan.code in existing:
            report.problems.append(
                ImportProblem(number, "code", _("the study already has this case"))
            )
            continue
        known = datasets.get(plan.dataset_name)
        if known is not None and known.kind != plan.dataset_kind:
            report.problems.append(
                ImportProblem(
                    number, "dataset_kind", _("the dataset exists with kind %s") % known.kind
                )
            )
            continue
        seen_codes[plan.code] = number
        planned.append(plan)
    if report.rows == 0:
        report.problems.append(ImportProblem(0, "", _("The manifest has no rows.")))
    if report.problems or dry_run:
        return report
    _import_planned(actor=actor, study=study, planned=planned, report=report)
    return report


def _import_planned(
    *, actor: Any, study: Study, planned: list[PlannedCase], report: ImportReport
) -> None:
    """Write the planned cases and their files in one transaction; stored files go on failure."""
    stored: list[Asset] = []
    try:
        with transaction.atomic():
            sites = {s.name: s for s in study.sites.all()}
            datasets = {d.name: d for d in study.datasets.all()}
            for plan in planned:
                dataset = datasets.get(plan.dataset_name)
                if dataset is None:
                    dataset = datasets[plan.dataset_name] = _new_dataset(
                        actor=actor, study=study, plan=plan, sites=sites
                    )
                case = case_create(
                    actor=actor,
                    dataset=dataset,
                    code=plan.code,
                    conditions=plan.conditions,
                    ivh_grade=plan.ivh_grade,
                    volpe_grade=plan.volpe_grade,
                    excluded=plan.excluded,
                    exclusion_reason=plan.exclusion_reason,
                    **plan.metadata,
                )
                report.created_cases += 1
                for kind, orientation, view, path in plan.files:
                    asset = asset_ingest(
                        actor=actor,
                        case=case,
                        path=path,
                        kind=kind,
                        orientation=orientation if orientation in Orientation.values else "",
                        view=view if view in View.__members__ else "",
                        original_name=path.name,
                    )
                    stored.append(asset)
                    report.created_assets += 1
            audit_record(
                actor=actor,
                action=AuditAction.CASES_IMPORTED,
                target=study,
                after={"cases": report.created_cases, "assets": report.created_assets},
            )
    except Exception:
        for asset in stored:
            if asset.file.name:
                asset.file.storage.delete(asset.file.name)
        report.created_cases = report.created_assets = 0
        raise
    report.dry_run = False


def _new_dataset(*, actor: Any, study: Study, plan: PlannedCase, sites: dict[str, Site]) -> Dataset:
    """Create the dataset a planned case names, and its site if the study has none of that name
    (added to ``sites``)."""
    from trials.services.studies import dataset_create, site_create

    site = sites.get(plan.site_name) if plan.site_name else None
    if plan.site_name and site is None:
        site = sites[plan.site_name] = site_create(actor=actor, study=study, name=plan.site_name)
    return dataset_create(
        actor=actor,
        study=study,
        name=plan.dataset_name,
        kind=plan.dataset_kind,
        site=site,
    )
