"""Material of the source trial made by people: a junior's preparation, and imports.

Every human material set is built by :func:`material_build`, which reads the picked
frames from the case's ORIGINAL sweep video (the uploaded asset, not its rendition) and
hands them to :func:`trials.services.renditions.rendition_make_for_view` — the code path
the AI's material takes too, so the two cannot differ by format, size, metadata or crop.
An imported image is first located in its sweep and replaced by that decoded frame, so
its pixels come through the same decoder as the AI's (see :func:`sweep_frame_locate`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import cv2
import numpy as np
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.labels import View
from core.video import VideoError, open_video, read_frames
from readers.models import Assignment, Read, SessionPhase
from readers.services import AlreadyAnswered, ReadAnswer, ReadingRefused, read_submit
from trials import media
from trials.audit import audit_record
from trials.models import (
    SAGITTAL_SIDES,
    Asset,
    AuditAction,
    Case,
    MaterialSet,
    MaterialSource,
    MaterialStatus,
    Orientation,
    Study,
    StudyStatus,
)
from trials.selectors import case_sweeps
from trials.services.renditions import local_path, rendition_make_for_view

#: The sweep each standard view is picked from (DESIGN.md: coronal AHV/TVV/BV, sagittal
#: MSV/RPSV/LPSV).
VIEW_SWEEP: dict[str, str] = {
    View.AHV: Orientation.CORONAL,
    View.TVV: Orientation.CORONAL,
    View.BV: Orientation.CORONAL,
    View.MSV: Orientation.SAGITTAL,
    View.RPSV: Orientation.SAGITTAL,
    View.LPSV: Orientation.SAGITTAL,
}
VIEWS: tuple[str, ...] = tuple(v.value for v in View)


def view_sweeps(orientations: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The sweeps each standard view may be picked from, given a case's sweep orientations.

    With one sagittal sweep (or none) each view has its :data:`VIEW_SWEEP`. With a left and
    a right sagittal sweep each parasagittal view comes from its side's sweep and the
    midsagittal view from either of them (each one-sided sweep passes the midline), as the
    AI takes it from whichever shows it best.
    """
    present = set(orientations)
    sides = [o for o in SAGITTAL_SIDES if o in present]
    if not sides:
        return {view: (VIEW_SWEEP[view],) for view in VIEWS}
    out: dict[str, tuple[str, ...]] = {}
    for view in VIEWS:
        if VIEW_SWEEP[view] == Orientation.CORONAL:
            out[view] = (Orientation.CORONAL,)
        elif view == View.LPSV:
            out[view] = (Orientation.SAGITTAL_LEFT,)
        elif view == View.RPSV:
            out[view] = (Orientation.SAGITTAL_RIGHT,)
        else:
            out[view] = tuple(sides)
    return out


def case_view_sweeps(case: Case) -> dict[str, tuple[str, ...]]:
    """:func:`view_sweeps` of the case's sweeps (those of :func:`case_sweeps`)."""
    return view_sweeps(case_sweeps(case=case))


#: Mean absolute grey difference (0–255, on a 96×72 thumbnail) under which an imported
#: image counts as a frame of its sweep. Lossy video coding moves a frame by 1–4 levels;
#: neighbouring frames of a sweep differ by 3–5 (DESIGN.md), other views by far more.
LOCATE_TOLERANCE = 12.0
_THUMB = (96, 72)


@dataclass(frozen=True)
class ImagePick:
    """A view given as an image (an import); located in its sweep before rendering."""

    image: np.ndarray


#: A view's pick: a 0-based frame index of the view's sweep, an image, or None (not
#: obtainable).
Pick = int | ImagePick | None


def sweep_asset(case: Case, orientation: str) -> Asset | None:
    """The case's original sweep video of ``orientation``: the one the AI reads too."""
    return case_sweeps(case=case).get(orientation)


def _thumb(frame: np.ndarray) -> np.ndarray:
    gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, _THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)


def sweep_frames_locate(
    path: Path, images: Mapping[str, np.ndarray]
) -> dict[str, tuple[int, np.ndarray]]:
    """The frame of the sweep at ``path`` that each image shows: view -> (index, frame).

    One pass through the video for all images. An image is missing from the result when
    its size differs from the sweep's or no frame is within :data:`LOCATE_TOLERANCE`.
    """
    nearest = _nearest_frames(path, images)
    return {
        view: (index, frame)
        for view, (index, frame, distance) in nearest.items()
        if distance <= LOCATE_TOLERANCE
    }


def _nearest_frames(
    path: Path, images: Mapping[str, np.ndarray]
) -> dict[str, tuple[int, np.ndarray, float]]:
    """The frame of the sweep at ``path`` nearest each image: view -> (index, frame, distance)."""
    targets = {view: _thumb(image) for view, image in images.items()}
    best: dict[str, tuple[int, np.ndarray, float]] = {}
    try:
        with open_video(path) as video:
            for index, frame in enumerate(video):
                thumb = _thumb(frame)
                for view, target in targets.items():
                    if images[view].shape[:2] != frame.shape[:2]:
                        continue
                    distance = float(np.abs(thumb - target).mean())
                    if view not in best or distance < best[view][2]:
                        best[view] = (index, frame, distance)
    except VideoError:
        return {}
    return best


def _pick_sweeps(
    case: Case, picks: Mapping[str, Pick], sweeps: Mapping[str, str]
) -> dict[str, tuple[str, ...]]:
    """The sweep(s) each picked view is read from: one for a frame number, the candidates
    for an image (located in each in turn)."""
    options = case_view_sweeps(case)
    unknown = set(sweeps) - set(VIEWS)
    if unknown:
        raise ValidationError(_("Unknown standard view: %s") % ", ".join(sorted(unknown)))
    chosen: dict[str, tuple[str, ...]] = {}
    for view in VIEWS:
        pick = picks.get(view)
        if pick is None:
            continue
        candidates = options[view]
        named = sweeps.get(view) or ""
        if named:
            if named not in candidates:
                raise ValidationError(
                    _("The %(view)s view is not picked from the %(sweep)s sweep of this case.")
                    % {"view": view, "sweep": named}
                )
            candidates = (named,)
        elif len(candidates) > 1 and not isinstance(pick, ImagePick):
            raise ValidationError(
                _("Say which sweep the %(view)s frame is from: %(sweeps)s.")
                % {"view": view, "sweeps": ", ".join(candidates)}
            )
        chosen[view] = candidates
    return chosen


def _frames_for(
    case: Case, picks: Mapping[str, Pick], sweeps: Mapping[str, str] | None = None
) -> dict[str, tuple[np.ndarray | None, int | None, str]]:
    """Decode every picked frame from the original sweeps: view -> (frame, index, sweep)."""
    chosen = _pick_sweeps(case, picks, sweeps or {})
    assets = case_sweeps(case=case)
    out: dict[str, tuple[np.ndarray | None, int | None, str]] = {}
    # An image is looked for in each of its view's sweeps; the nearest frame of all counts.
    nearest: dict[str, tuple[float, int, np.ndarray, str]] = {}
    for orientation in dict.fromkeys(o for candidates in chosen.values() for o in candidates):
        views = [v for v in VIEWS if orientation in chosen.get(v, ())]
        asset = assets.get(orientation)
        if asset is None:  # a view's only sweep (several are offered only when present)
            raise ValidationError(
                _("The case has no %(sweep)s sweep to pick from.") % {"sweep": orientation}
            )
        with local_path(asset.file) as path:
            images = {v: p.image for v in views if isinstance(p := picks[v], ImagePick)}
            found = _nearest_frames(path, images) if images else {}
            for view, (index, frame, distance) in found.items():
                if view not in nearest or distance < nearest[view][0]:
                    nearest[view] = (distance, index, frame, orientation)
            indices = {v: int(picks[v]) for v in views if not isinstance(picks[v], ImagePick)}  # type: ignore[arg-type]
            for view, index in indices.items():
                if not 0 <= index < asset.frame_count:
                    raise ValidationError(
                        _("Frame %(frame)d of %(view)s is outside the sweep (1–%(count)d).")
                        % {"frame": index + 1, "view": view, "count": asset.frame_count}
                    )
            try:
                decoded = read_frames(path, set(indices.values()))
            except VideoError as exc:
                raise ValidationError(_("The sweep cannot be decoded: %s") % exc.reason) from exc
            for view, index in indices.items():
                out[view] = (decoded[index], index, orientation)
    for view in VIEWS:
        if not isinstance(picks.get(view), ImagePick):
            continue
        if view not in nearest or nearest[view][0] > LOCATE_TOLERANCE:
            raise ValidationError(
                _("The %(view)s image is not a frame of the case's %(sweep)s sweep.")
                % {"view": view, "sweep": " / ".join(chosen[view])}
            )
        _distance, index, frame, orientation = nearest[view]
        out[view] = (frame, index, orientation)
    return out


def material_build(
    *,
    actor: Any,
    case: Case,
    source: str,
    author: Any,
    initial_severe: bool,
    picks: Mapping[str, Pick],
    sweeps: Mapping[str, str] | None = None,
) -> MaterialSet:
    """A complete human material set from picks, through the AI's rendition path.

    ``sweeps`` names the sweep of a view that more than one sweep shows (the midsagittal
    view of a case with a left and a right sagittal sweep: see :func:`view_sweeps`).
    Must run inside a transaction (the caller's): nothing is kept if any view fails.
    """
    if source not in (MaterialSource.JUNIOR, MaterialSource.SONOGRAPHER):
        raise ValidationError(_("Imported material comes from a junior or a sonographer."))
    unknown = set(picks) - set(VIEWS)
    if unknown:
        raise ValidationError(_("Unknown standard view: %s") % ", ".join(sorted(unknown)))
    if all(picks.get(v) is None for v in VIEWS):
        raise ValidationError(_("Pick at least one standard view."))
    frames = _frames_for(case, picks, sweeps)
    material = MaterialSet(
        case=case, source=source, author_user=author, initial_severe=bool(initial_severe)
    )
    material.full_clean()
    material.save()
    for view in VIEWS:
        frame, index, _sweep = frames.get(view, (None, None, ""))
        try:
            rendition_make_for_view(
                material_set=material, view=view, frame=frame, frame_index=index, actor=actor
            )
        except media.MediaError as exc:
            raise ValidationError(
                _("The %(view)s frame cannot be rendered: %(reason)s")
                % {"view": view, "reason": str(exc)}
            ) from exc
    material.status = MaterialStatus.COMPLETE
    material.save(update_fields=["status", "modified"])
    audit_record(
        actor=actor,
        action=AuditAction.MATERIAL_CREATED,
        target=material,
        after={
            "source": source,
            "author": author.get_username(),
            "initial_severe": bool(initial_severe),
            "frames": {v: frames[v][1] for v in VIEWS if v in frames},
            "sweeps": {v: frames[v][2] for v in VIEWS if v in frames},
        },
    )
    return material


# ------------------------------------------------------------------ junior preparation


@transaction.atomic
def material_prepare(
    *,
    reader: Any,
    assignment: Assignment,
    picks: Mapping[str, int | None],
    initial_severe: bool,
    client_event_id: UUID,
    sweeps: Mapping[str, str] | None = None,
) -> Read:
    """A junior's material for one case of his preparation session, in one transaction.

    ``picks`` maps every standard view to a 0-based frame index of its sweep, or None
    (not obtainable), ``sweeps`` the sweep of a view more than one sweep shows (see
    :func:`material_build`). Builds the ``junior`` MaterialSet and records the preparation as the
    assignment's read; the same ``client_event_id`` returns the first read (idempotent).
    """
    existing = Read.objects.filter(client_event_id=client_event_id).first()
    if existing is not None:
        if existing.assignment_id != assignment.pk or existing.reader_id != reader.pk:
            raise AlreadyAnswered(_("This submission id was used for another case."))
        existing.replayed = True  # type: ignore[attr-defined]
        return existing
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("session__study", "case")
        .get(pk=assignment.pk)
    )
    if assignment.session.reader_id != reader.pk:
        raise ReadingRefused(_("This case is not assigned to you."))
    if assignment.session.phase != SessionPhase.PREPARATION:
        raise ReadingRefused(_("This case is not one to prepare."))
    if assignment.answered_at is not None or assignment.material_set_id is not None:
        raise AlreadyAnswered(_("You have prepared this case already."))
    if assignment.served_at is None:
        raise ReadingRefused(_("Open the case before answering it."))
    if set(picks) != set(VIEWS):
        raise ValidationError(
            _("Give a frame, or mark it not obtainable, for every standard view.")
        )
    if not isinstance(initial_severe, bool):
        raise ValidationError(_("Severe must be yes or no."))
    material = material_build(
        actor=reader,
        case=assignment.case,
        source=MaterialSource.JUNIOR,
        author=reader,
        initial_severe=initial_severe,
        picks=picks,
        sweeps=sweeps,
    )
    assignment.material_set = material
    assignment.save(update_fields=["material_set", "modified"])
    return read_submit(
        reader=reader,
        assignment=assignment,
        answer=ReadAnswer(
            severe=initial_severe,
            confidence=100 if initial_severe else 0,
            extra={
                "picks": {v: picks[v] for v in VIEWS},
                **({"sweeps": dict(sweeps)} if sweeps else {}),
            },
        ),
        client_event_id=client_event_id,
    )


# ------------------------------------------------------------------------- import


@dataclass(frozen=True)
class MaterialImportProblem:
    """One problem of a material manifest: its row (1 = first data row), column, message."""

    row: int
    column: str
    message: str


@dataclass
class MaterialImportReport:
    """What a material import found and (unless a dry run with problems) made."""

    dry_run: bool
    rows: int = 0
    created: int = 0
    problems: list[MaterialImportProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


_TRUE = {"1", "yes", "y", "true", "severe"}
_FALSE = {"0", "no", "n", "false", "not severe", "non-severe"}


def _parse_pick(cell: str, base: Path) -> Pick:
    """A manifest cell: empty (not obtainable), a frame number (1-based) or an image path."""
    cell = cell.strip()
    if not cell:
        return None
    if cell.isdigit():
        if int(cell) < 1:
            raise ValidationError(_("Frame numbers start at 1."))
        return int(cell) - 1
    path = (base / cell).resolve()
    if base.resolve() not in path.parents:
        raise ValidationError(_("The image path leaves the archive: %s") % cell)
    if not path.is_file():
        raise ValidationError(_("No such file in the archive: %s") % cell)
    try:
        return ImagePick(media.load_image(path))
    except media.MediaError as exc:
        raise ValidationError(str(exc)) from exc


def material_import(
    *,
    actor: Any,
    study: Study,
    manifest: Path,
    dry_run: bool = True,
    source: str = MaterialSource.JUNIOR,
    default_author: Any = None,
    reason: str = "",
) -> MaterialImportReport:
    """Import human material prepared elsewhere from a manifest CSV (and its images).

    Columns: ``code`` (the case), ``author`` (a username; or ``default_author``),
    ``initial_severe`` (yes/no), optionally ``source`` (junior | sonographer; else
    ``source``), and ``view_<VIEW>`` for each standard view: a 1-based frame number of the
    view's sweep, an image path relative to the manifest (located in the sweep), or empty
    (not obtainable); ``sweep_<VIEW>`` names the sweep of a frame number where more than one
    sweep shows the view (MSV of a case with left and right sagittal sweeps). All rows or
    none: any problem writes nothing. While the study is open an import amends its
    material: it needs a ``reason`` and is audited.
    """
    report = MaterialImportReport(dry_run=dry_run)
    amendment = not dry_run and Study.objects.filter(pk=study.pk, status=StudyStatus.OPEN).exists()
    if amendment and not reason.strip():
        report.problems.append(
            MaterialImportProblem(
                0,
                "",
                _(
                    "The study is open: an import now amends its material. "
                    "Give the reason for the amendment."
                ),
            )
        )
        return report
    try:
        with manifest.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        report.problems.append(
            MaterialImportProblem(0, "", _("The manifest cannot be read: %s") % exc)
        )
        return report
    report.rows = len(rows)
    if not rows:
        report.problems.append(MaterialImportProblem(0, "", _("The manifest has no rows.")))
        return report
    columns = set(rows[0])
    if "code" not in columns:
        report.problems.append(
            MaterialImportProblem(0, "code", _("The manifest needs a code column."))
        )
        return report
    users = get_user_model().objects
    cases = {c.code: c for c in study.cases.all()}
    seen: set[tuple[str, str]] = set()
    try:
        with transaction.atomic():
            for number, row in enumerate(rows, start=1):
                _import_row(
                    actor,
                    study,
                    row,
                    number,
                    manifest.parent,
                    cases,
                    users,
                    seen,
                    source,
                    default_author,
                    report,
                )
            if dry_run or report.problems:
                transaction.set_rollback(True)
            elif amendment:
                audit_record(
                    actor=actor,
                    action=AuditAction.MATERIAL_AMENDED,
                    target=study,
                    study=study,
                    after={"import": manifest.name, "source": source, "created": report.created},
                    reason=reason.strip(),
                )
    except ValidationError as exc:  # pragma: no cover - rows record their own problems
        report.problems.append(MaterialImportProblem(0, "", " ".join(exc.messages)))
    if report.problems:
        report.created = 0
    return report


def _import_row(
    actor: Any,
    study: Study,
    row: dict[str, str],
    number: int,
    base: Path,
    cases: dict[str, Case],
    users: Any,
    seen: set[tuple[str, str]],
    default_source: str,
    default_author: Any,
    report: MaterialImportReport,
) -> None:
    def problem(column: str, message: str) -> None:
        report.problems.append(MaterialImportProblem(number, column, message))

    case = cases.get((row.get("code") or "").strip())
    if case is None:
        problem("code", _("No case of this study has this code."))
        return
    username = (row.get("author") or "").strip()
    author = users.filter(username=username).first() if username else default_author
    if author is None:
        problem("author", _("No user has this username."))
        return
    source = (row.get("source") or "").strip() or default_source
    if source not in (MaterialSource.JUNIOR, MaterialSource.SONOGRAPHER):
        problem("source", _("The source must be junior or sonographer."))
        return
    severe_cell = (row.get("initial_severe") or "").strip().lower()
    if severe_cell not in _TRUE | _FALSE:
        problem("initial_severe", _("Give the initial diagnosis: severe yes or no."))
        return
    key = (case.code, author.get_username())
    if (
        key in seen
        or MaterialSet.objects.filter(case=case, author_user=author, source=source).exists()
    ):
        problem("code", _("This author has material for this case already."))
        return
    seen.add(key)
    picks: dict[str, Pick] = {}
    for view in VIEWS:
        try:
            picks[view] = _parse_pick(row.get(f"view_{view}") or "", base)
        except ValidationError as exc:
            problem(f"view_{view}", " ".join(exc.messages))
            return
    sweeps = {v: cell for v in VIEWS if (cell := (row.get(f"sweep_{v}") or "").strip())}
    try:
        with transaction.atomic():
            material_build(
                actor=actor,
                case=case,
                source=source,
                author=author,
                initial_severe=severe_cell in _TRUE,
                picks=picks,
                sweeps=sweeps,
            )
    except ValidationError as exc:
        problem("", " ".join(exc.messages))
        return
    report.created += 1
