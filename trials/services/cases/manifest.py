"""Reading a manifest row into a planned case, with every problem found named by column."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from core.labels import MANIFEST_COLUMNS, is_severe
from trials import media
from trials.models import AssetKind, DatasetKind
from trials.services.cases.validation import sagittal_form_conflict, validated_media
from trials.services.gold_standards import validate_volpe_grade

#: The manifest's columns: the shared vocabulary's, which has one ``video_<orientation>`` per
#: declared sweep orientation (tests/trials check it against ``Orientation``).
IMPORT_COLUMNS: tuple[str, ...] = MANIFEST_COLUMNS


@dataclass(frozen=True)
class ImportProblem:
    """One problem found in a manifest: its row (1 = first data row), column and message."""

    row: int
    column: str
    message: str


@dataclass
class PlannedCase:
    """A manifest row that passed every check: what the import will create."""

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


#: Records a problem of the row being parsed: (column, message).
_Problem = Callable[[str, str], None]


def _int_or_none(value: str) -> int | None:
    """An integer cell; empty is None."""
    return int(value) if value.strip() else None


def _float_or_none(value: str) -> float | None:
    """A decimal cell; empty is None."""
    return float(value) if value.strip() else None


def parse_row(
    row_number: int, row: dict[str, str], base: Path, problems: list[ImportProblem]
) -> PlannedCase | None:
    """Check one manifest row (files relative to ``base``); append its problems, in column
    order, to ``problems`` and return its plan only when it has none."""
    before = len(problems)

    def problem(column: str, message: str) -> None:
        """Record a problem of this row."""
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
    metadata = _parse_metadata(row, problem)
    conditions, ivh_grade, volpe_grade = _parse_gold_standard(row, problem)
    excluded, reason = _parse_exclusion(row, problem)
    files = _parse_files(row, base, problem)
    if len(problems) > before:
        return None
    return PlannedCase(
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


def _parse_metadata(row: dict[str, str], problem: _Problem) -> dict[str, Any]:
    """The baby's and the device's fields, converted and range-checked."""
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
    return metadata


def _parse_gold_standard(
    row: dict[str, str], problem: _Problem
) -> tuple[list[str], int | None, str]:
    """Conditions, IVH grade and Volpe grade, checked together by the severe rule."""
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
    return conditions, ivh_grade, volpe_grade


def _parse_exclusion(row: dict[str, str], problem: _Problem) -> tuple[bool, str]:
    """Whether the case is excluded, and the reason it must then have."""
    excluded_raw = (row.get("excluded") or "0").strip().lower()
    excluded = excluded_raw in ("1", "true", "yes")
    if excluded_raw not in ("", "0", "1", "true", "false", "yes", "no"):
        problem("excluded", _("must be 0 or 1"))
    reason = (row.get("exclusion_reason") or "").strip()
    if excluded and not reason:
        problem("exclusion_reason", _("an excluded case needs a reason"))
    return excluded, reason


def _parse_files(
    row: dict[str, str], base: Path, problem: _Problem
) -> list[tuple[str, str, str, Path]]:
    """The row's sweep videos and view images: inside ``base``, present, of an accepted
    kind, and not both sagittal forms."""
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
            validated_media(path, expect="video" if is_video else "image")
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
    return files
