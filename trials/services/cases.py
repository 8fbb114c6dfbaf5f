"""Cases, gold standards, uploaded files and the manifest import."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils.translation import gettext as _

from core.files import file_sha256
from core.labels import MANIFEST_COLUMNS, View, is_severe, parse_conditions
from trials import media
from trials.audit import audit_record
from trials.models import (
    SAGITTAL_SIDES,
    Asset,
    AssetKind,
    AuditAction,
    Case,
    Dataset,
    DatasetKind,
    GoldStandard,
    Orientation,
    Study,
    StudyStatus,
)
from trials.services.gold_standards import validate_volpe_grade

_VIDEO_FORMATS = {"mp4", "avi", "dicom"}
_IMAGE_FORMATS = {"png", "jpeg", "dicom"}
#: The manifest's columns: the shared vocabulary's, which has one ``video_<orientation>`` per
#: declared sweep orientation (tests/trials check it against ``Orientation``).
IMPORT_COLUMNS: tuple[str, ...] = MANIFEST_COLUMNS
_METADATA_FIELDS = (
    "ga_weeks",
    "ga_days",
    "birth_weight_g",
    "sex",
    "age_at_exam_days",
    "apgar_1min",
    "apgar_5min",
    "probe_type",
    "manufacturer",
    "device_model",
    "transducer_mhz",
)


def _require_draft_or_open(study: Study) -> None:
    if study.status not in (StudyStatus.DRAFT, StudyStatus.OPEN):
        raise ValidationError(_("Cases can only be added while the study is a draft or open."))


@transaction.atomic
def case_create(
    *,
    actor: Any,
    dataset: Dataset,
    code: str,
    conditions: Iterable[str],
    ivh_grade: int | None = None,
    volpe_grade: str = "",
    excluded: bool = False,
    exclusion_reason: str = "",
    **metadata: Any,
) -> Case:
    """Create a case with its gold standard; ``severe`` is derived by the rule."""
    _require_draft_or_open(dataset.study)
    unknown = set(metadata) - set(_METADATA_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown case fields: %s") % ", ".join(sorted(unknown)))
    try:
        condition_set = parse_conditions(conditions)
        severe = is_severe(condition_set, ivh_grade)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    if not condition_set:
        raise ValidationError(_("A gold standard needs at least one condition (or 'normal')."))
    validate_volpe_grade(condition_set, volpe_grade)
    case = Case(
        study=dataset.study,
        dataset=dataset,
        code=code,
        excluded=excluded,
        exclusion_reason=exclusion_reason,
        **metadata,
    )
    case.full_clean()
    case.save()
    gold = GoldStandard(
        case=case,
        conditions=sorted(c.value for c in condition_set),
        ivh_grade=ivh_grade,
        volpe_grade=volpe_grade,
        severe=severe,
    )
    gold.full_clean()
    gold.save()
    audit_record(
        actor=actor,
        action=AuditAction.CASE_CREATED,
        target=case,
        after={"code": code, "dataset": dataset.name, "severe": severe, "excluded": excluded},
    )
    return case


@transaction.atomic
def case_exclude(*, actor: Any, case: Case, reason: str) -> Case:
    """Exclude a case as unsuitable for diagnosis, with its reason."""
    if not reason.strip():
        raise ValidationError(_("An exclusion needs a reason."))
    case = Case.objects.select_for_update().get(pk=case.pk)
    case.excluded = True
    case.exclusion_reason = reason
    case.save(update_fields=["excluded", "exclusion_reason", "modified"])
    audit_record(actor=actor, action=AuditAction.CASE_EXCLUDED, target=case, reason=reason)
    return case


def _validated_media(path: Path, *, expect: str) -> media.MediaInfo:
    """Probe a file and check it is a kind allowed for ``expect`` (video or image)."""
    info = media.probe(path, max_bytes=settings.FONTANELLE_MAX_UPLOAD_BYTES)
    allowed = _VIDEO_FORMATS if expect == "video" else _IMAGE_FORMATS
    if info.kind.value not in allowed:
        raise media.MediaError(
            _("%(kind)s is not accepted here; expected one of %(allowed)s")
            % {"kind": info.kind.value, "allowed": ", ".join(sorted(allowed))}
        )
    if expect == "video" and info.frame_count < 2:
        raise media.MediaError(_("a sweep video needs more than one frame"))
    return info


def sagittal_form_conflict(orientations: Iterable[str]) -> str:
    """Why sweeps of these orientations cannot belong to one case ("" when they can).

    A case has either one sagittal sweep across both sides or a left and a right one. Both
    would leave it unclear which sweeps the AI reads and a junior picks from (the midline
    and each parasagittal plane twice over), and the case's media would show a sweep the
    protocol never made: almost always a file uploaded twice or mislabelled.
    """
    given = set(orientations)
    if Orientation.SAGITTAL in given and given.intersection(SAGITTAL_SIDES):
        return _(
            "A case has either one sagittal sweep or a left and a right sagittal sweep, not both."
        )
    return ""


@transaction.atomic
def asset_ingest(
    *,
    actor: Any,
    case: Case,
    path: Path,
    kind: str,
    orientation: str = "",
    view: str = "",
    original_name: str = "",
) -> Asset:
    """Validate, de-identify and store one file of a case; its rendition is queued.

    A bad file raises ``ValidationError`` and nothing of it is stored.
    """
    _require_draft_or_open(case.study)
    if kind == AssetKind.SWEEP_VIDEO and orientation:
        # The case row is locked so that two uploads cannot add the two sagittal forms.
        Case.objects.select_for_update().filter(pk=case.pk).first()
        present = case.assets.filter(kind=AssetKind.SWEEP_VIDEO).values_list(
            "orientation", flat=True
        )
        conflict = sagittal_form_conflict([*present, orientation])
        if conflict:
            raise ValidationError({"orientation": conflict})
    try:
        info = _validated_media(path, expect="video" if kind == AssetKind.SWEEP_VIDEO else "image")
    except media.MediaError as exc:
        raise ValidationError(
            _("%(name)s: %(problem)s") % {"name": original_name or path.name, "problem": exc}
        ) from exc
    with tempfile.TemporaryDirectory() as scratch:
        stored_path = path
        if info.kind.value == "dicom":
            stored_path = Path(scratch) / "deidentified.dcm"
            media.deidentify_dicom(path, stored_path)
        asset = Asset(
            case=case,
            kind=kind,
            orientation=orientation,
            view=view,
            media_format=info.kind.value,
            original_name=original_name[:255],
            sha256=file_sha256(stored_path),
            size_bytes=stored_path.stat().st_size,
            width=info.width,
            height=info.height,
            frame_count=info.frame_count,
            fps=info.fps,
        )
        asset.full_clean(exclude=["file"])
        with stored_path.open("rb") as handle:
            asset.file.save("upload", File(handle), save=False)
    try:
        asset.save()
        audit_record(
            actor=actor,
            action=AuditAction.ASSET_INGESTED,
            target=asset,
            after={"kind": kind, "orientation": orientation, "view": view, "sha256": asset.sha256},
        )
    except Exception:
        # Nothing of a refused file is kept (the caller's rollback removes the row).
        if asset.file.name:
            asset.file.storage.delete(asset.file.name)
        raise
    from trials.tasks import make_asset_rendition  # tasks import services

    asset_id = asset.pk
    transaction.on_commit(lambda: make_asset_rendition.delay(asset_id=str(asset_id)))
    return asset


# ---------------------------------------------------------------------------------------
# Manifest import


@dataclass(frozen=True)
class ImportProblem:
    """One problem found in a manifest: its row (1 = first data row), column and message."""

    row: int
    column: str
    message: str


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
        return not self.problems


@dataclass
class _PlannedCase:
    row: int
    dataset_name: str
    dataset_kind: str
    site_name: str
    code: str
    conditions: list[str]
    ivh_grade: int | None
    volpe_grade: str
    excluded: bool
    exclusion_reason: str
    metadata: dict[str, Any]
    files: list[tuple[str, str, str, Path]]  # kind, orientation, view, path


def _int_or_none(value: str) -> int | None:
    return int(value) if value.strip() else None


def _float_or_none(value: str) -> float | None:
    return float(value) if value.strip() else None


def _parse_row(
    row_number: int, row: dict[str, str], base: Path, problems: list[ImportProblem]
) -> _PlannedCase | None:
    before = len(problems)

    def problem(column: str, message: str) -> None:
        problems.append(ImportProblem(row_number, column, message))

    code = (row.get("code") or "").strip()
    if not code:
        problem("code", _("a case needs a code"))
    dataset_name = (row.get("dataset") or "").strip()
    if not dataset_name:
        problem("dataset", _("a case needs a dataset"))
    dataset_kind = (row.get("dataset_kind") or "").strip()
    if dataset_kind not in DatasetKind.values:
        problem("dataset_kind", _("must be one of %s") % ", ".join(DatasetKind.values))
    metadata: dict[str, Any] = {}
    converters: dict[str, tuple[str, Any]] = {
        "ga_weeks": ("ga_weeks", _int_or_none),
        "ga_days": ("ga_days", _int_or_none),
        "birth_weight_g": ("birth_weight_g", _int_or_none),
        "age_at_exam_days": ("age_at_exam_days", _int_or_none),
        "apgar_1min": ("apgar_1min", _int_or_none),
        "apgar_5min": ("apgar_5min", _int_or_none),
        "transducer_mhz": ("transducer_mhz", _float_or_none),
    }
    for column, (name, convert) in converters.items():
        raw = row.get(column) or ""
        try:
            metadata[name] = convert(raw)
        except ValueError:
            problem(column, _("%(value)r is not a number") % {"value": raw})
    for column, name in (
        ("probe_type", "probe_type"),
        ("manufacturer", "manufacturer"),
        ("model", "device_model"),
    ):
        metadata[name] = (row.get(column) or "").strip()
    sex = (row.get("sex") or "U").strip().upper() or "U"
    if sex not in ("F", "M", "U"):
        problem("sex", _("must be F, M or U"))
    metadata["sex"] = sex
    if metadata.get("ga_days") is not None and not 0 <= metadata["ga_days"] <= 6:
        problem("ga_days", _("must be 0–6"))
    if metadata.get("ga_weeks") is not None and not 20 <= metadata["ga_weeks"] <= 45:
        problem("ga_weeks", _("must be 20–45"))
    for column in ("apgar_1min", "apgar_5min"):
        if metadata.get(column) is not None and not 0 <= metadata[column] <= 10:
            problem(column, _("must be 0–10"))
    conditions = [c for c in (row.get("conditions") or "").split(";") if c.strip()]
    ivh_grade: int | None = None
    try:
        ivh_grade = _int_or_none(row.get("ivh_grade") or "")
    except ValueError:
        problem("ivh_grade", _("must be 1–4 or empty"))
    volpe_grade = (row.get("volpe_grade") or "").strip().upper()
    if not conditions:
        problem("conditions", _("a gold standard needs at least one condition (or 'normal')"))
    else:
        try:
            is_severe(conditions, ivh_grade)
        except ValueError as exc:
            problem("conditions", str(exc))
        try:
            validate_volpe_grade([c.strip().lower() for c in conditions], volpe_grade)
        except ValidationError as exc:
            problem("volpe_grade", "; ".join(exc.messages))
    excluded_raw = (row.get("excluded") or "0").strip().lower()
    excluded = excluded_raw in ("1", "true", "yes")
    if excluded_raw not in ("", "0", "1", "true", "false", "yes", "no"):
        problem("excluded", _("must be 0 or 1"))
    reason = (row.get("exclusion_reason") or "").strip()
    if excluded and not reason:
        problem("exclusion_reason", _("an excluded case needs a reason"))
    files: list[tuple[str, str, str, Path]] = []
    resolved_base = base.resolve()
    for column in IMPORT_COLUMNS:
        if not column.startswith(("video_", "view_")):
            continue
        relative = (row.get(column) or "").strip()
        if not relative:
            continue
        path = (base / relative).resolve()
        if resolved_base not in path.parents:
            problem(column, _("path leaves the manifest's folder"))
            continue
        if not path.is_file():
            problem(column, _("file not found: %s") % relative)
            continue
        is_video = column.startswith("video_")
        try:
            _validated_media(path, expect="video" if is_video else "image")
        except media.MediaError as exc:
            problem(column, str(exc))
            continue
        if is_video:
            files.append((AssetKind.SWEEP_VIDEO, column.removeprefix("video_"), "", path))
        else:
            files.append((AssetKind.VIEW_IMAGE, "", column.removeprefix("view_"), path))
    conflict = sagittal_form_conflict(o for k, o, _v, _p in files if k == AssetKind.SWEEP_VIDEO)
    if conflict:
        problem("video_sagittal", conflict)
    if len(problems) > before:
        return None
    return _PlannedCase(
        row=row_number,
        dataset_name=dataset_name,
        dataset_kind=dataset_kind,
        site_name=(row.get("site") or "").strip(),
        code=code,
        conditions=conditions,
        ivh_grade=ivh_grade,
        volpe_grade=volpe_grade,
        excluded=excluded,
        exclusion_reason=reason,
        metadata=metadata,
        files=files,
    )


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
    planned: list[_PlannedCase] = []
    seen_codes: dict[str, int] = {}
    existing = set(study.cases.values_list("code", flat=True))
    datasets = {d.name: d for d in study.datasets.all()}
    for number, row in enumerate(reader, start=1):
        report.rows += 1
        plan = _parse_row(number, row, manifest.parent, report.problems)
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
    *, actor: Any, study: Study, planned: list[_PlannedCase], report: ImportReport
) -> None:
    from trials.services.studies import dataset_create, site_create

    stored: list[Asset] = []
    try:
        with transaction.atomic():
            sites = {s.name: s for s in study.sites.all()}
            datasets = {d.name: d for d in study.datasets.all()}
            for plan in planned:
                dataset = datasets.get(plan.dataset_name)
                if dataset is None:
                    site = sites.get(plan.site_name) if plan.site_name else None
                    if plan.site_name and site is None:
                        site = sites[plan.site_name] = site_create(
                            actor=actor, study=study, name=plan.site_name
                        )
                    dataset = datasets[plan.dataset_name] = dataset_create(
                        actor=actor,
                        study=study,
                        name=plan.dataset_name,
                        kind=plan.dataset_kind,
                        site=site,
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


def copy_upload_to(path: Path, upload: Any) -> Path:
    """Write an uploaded file (Django UploadedFile) to ``path`` in chunks."""
    with path.open("wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    return path
