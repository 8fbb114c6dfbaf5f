"""The demo studies, built one after the other in a background process, and their progress.

``make demo`` runs ``manage.py serve_demo``: it creates the demo logins, then serves the
site at once while a second process (``manage.py load_demo --background``) builds the
three demo studies, the smallest first so that something is usable within minutes. Each
study has a :class:`~analysis.models.DemoBuild` record that the builder writes (one short
statement per change) and the home and login pages show (:func:`panel`), with the live
counts of the study being built read from its own rows (cases imported, renditions made,
cases the AI has read).

Reuse: a study whose status shows that its build finished (the practice study and the
source trial open, the reader study unblinded) is never rebuilt. A study left in draft by
an interrupted build is resumed: every step of the builders is skipped once done or is
idempotent (case imports are all or nothing per dataset; ``ai_case_build`` returns a
complete result as it is; sessions are kept), and the renditions a killed import left
unmade are made before the study is marked ready.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from analysis.blinding import blinding_audit_for_study
from analysis.demo import fill_demo_reads
from analysis.models import DemoBuild, DemoBuildState
from inference.demo import demo_ai_material, demo_model_version, run_ai_on_study
from inference.models import AICaseResult
from readers.demo import PRACTICE_TITLE, build_practice_study, build_source_trial_demo
from readers.demo import TITLE as SOURCE_TRIAL_TITLE
from trials.demo import DEMO_DATASETS, build_demo_study
from trials.demo import TITLE as READER_STUDY_TITLE
from trials.models import Asset, DatasetKind, Rendition, RenditionStatus, Study, StudyStatus
from trials.services.renditions import rendition_make_for_asset

logger = logging.getLogger(__name__)

Log = Callable[[str], None]

DATA_DIR = Path(settings.BASE_DIR) / "var" / "demo-data"


def _cases(*kinds: str) -> int:
    return sum(count for _name, kind, _site, count, _seed, _blind in DEMO_DATASETS if kind in kinds)


@dataclass(frozen=True)
class DemoSpec:
    """One demo study: its record key, title, expected cases, the builder, and the
    statuses that show its build finished."""

    key: str
    title: str
    cases: int
    build: str  # the name of a builder function of this module (looked up when called)
    finished: tuple[str, ...]

    def study(self) -> Study | None:
        return Study.objects.filter(title=self.title, is_demo=True).first()


_AFTER_DRAFT = (StudyStatus.OPEN, StudyStatus.LOCKED, StudyStatus.UNBLINDED)
#: The demo studies in the order they are built: the smallest first.
SPECS: tuple[DemoSpec, ...] = (
    DemoSpec(
        "practice", PRACTICE_TITLE, _cases(DatasetKind.INTERNAL), "_build_practice", _AFTER_DRAFT
    ),
    DemoSpec(
        "source-trial",
        SOURCE_TRIAL_TITLE,
        _cases(DatasetKind.INTERNAL, DatasetKind.EXTERNAL),
        "_build_source_trial",
        _AFTER_DRAFT,
    ),
    DemoSpec(
        "reader-study",
        READER_STUDY_TITLE,
        _cases(*DatasetKind.values),
        "_build_reader_study",
        (StudyStatus.UNBLINDED,),
    ),
)


# ---- the progress record (short statements: the web server reads it meanwhile) ----


def records_prepare(*, pid: int | None = None) -> None:
    """One record per demo study; those not ready are (again) waiting for ``pid``."""
    for position, spec in enumerate(SPECS):
        record, created = DemoBuild.objects.get_or_create(
            key=spec.key, defaults={"title": spec.title, "position": position, "pid": pid}
        )
        if not created and record.state != DemoBuildState.READY:
            DemoBuild.objects.filter(key=spec.key).update(
                title=spec.title,
                position=position,
                state=DemoBuildState.PENDING,
                step="",
                error="",
                pid=pid,
                updated_at=timezone.now(),
            )


def record_set(key: str, **fields: Any) -> None:
    DemoBuild.objects.filter(key=key).update(updated_at=timezone.now(), **fields)


def records_stop_unfinished(reason: str) -> None:
    """Mark what a builder left waiting or building as stopped (it exited or was killed)."""
    DemoBuild.objects.filter(state__in=(DemoBuildState.PENDING, DemoBuildState.BUILDING)).update(
        state=DemoBuildState.STOPPED, error=reason, updated_at=timezone.now()
    )


# ---- building ----


def _build_practice(log: Log) -> Study:
    study = build_practice_study(ai_material=demo_ai_material)
    log(f"Reading practice study: {study.cases.count()} cases, open, no washout.")
    return study


def _build_source_trial(log: Log) -> Study:
    trial = build_source_trial_demo(ai_material=demo_ai_material)
    log(f"Blinded source trial: {trial.cases} cases, open for senior1's review.")
    audit = blinding_audit_for_study(study=trial.study)
    if audit.result is not None:
        r = audit.result
        log(
            f"Blinding audit ({audit.scope}): AUC {r.auc:.3f} "
            f"(95% CI {r.ci.low:.3f}–{r.ci.high:.3f}) — "
            + (
                "sources DISTINGUISHABLE: " + r.warning
                if r.distinguishable
                else "no machine-detectable source cue"
            )
        )
    else:
        log(f"Blinding audit not run: {audit.problem}")
    return trial.study


def _build_reader_study(log: Log) -> Study:
    result = build_demo_study()
    log(f"Demo reader study: {result.cases} cases imported.")
    model = demo_model_version()
    if model is None:
        log("No shipped demo models: the reader simulator stands in for the AI.")
    else:
        log(f"Running {model} on the demo cases ...")
        complete, failed = run_ai_on_study(study=result.study, model_version=model, progress=log)
        log(f"AI material: {complete} cases complete, {failed} failed.")
    record_set("reader-study", step=_("simulating the readers' reads"))
    filled = fill_demo_reads(result.study)
    if filled.skipped:
        log(f"Simulated reads: skipped ({filled.skipped}).")
    else:
        log(
            f"Simulated reads: {filled.reads} reads, {filled.blinded_reviews} blinded reviews, "
            f"{filled.qualitative_reads} qualitative assessments; the study is unblinded."
        )
    return result.study


def renditions_complete(study: Study) -> int:
    """Make the renditions an interrupted import left unmade; return how many were made."""
    ready = Rendition.objects.filter(asset=OuterRef("pk"), status=RenditionStatus.READY)
    missing = (
        Asset.objects.filter(case__study=study).exclude(Exists(ready)).values_list("pk", flat=True)
    )
    made = 0
    for asset_id in list(missing):
        rendition_make_for_asset(asset_id=asset_id)
        made += 1
    return made


def build_all(*, log: Log = print) -> bool:
    """Build every demo study not built yet, recording progress; True when all are ready.

    A failure is logged and recorded (the pages show it) and the next study is built; an
    interruption (Ctrl-C, the server stopping) records the study as stopped.
    """
    records_prepare(pid=os.getpid())
    ok = True
    for spec in SPECS:
        study = spec.study()
        if study is not None and study.status in spec.finished:
            renditions_complete(study)
            record_set(spec.key, state=DemoBuildState.READY, step="", error="")
            log(f"{spec.title}: built already, reused.")
            continue
        log(f"Building {spec.title} ...")
        record_set(
            spec.key,
            state=DemoBuildState.BUILDING,
            step="",
            error="",
            started_at=timezone.now(),
            finished_at=None,
            pid=os.getpid(),
        )
        try:
            study = globals()[spec.build](log)
            made = renditions_complete(study)
            if made:
                log(f"  {made} renditions an interrupted import left unmade: made.")
        except Exception as exc:
            ok = False
            logger.exception("Building the demo study %r failed", spec.title)
            detail = "".join(traceback.format_exception_only(exc)).strip()
            record_set(
                spec.key,
                state=DemoBuildState.FAILED,
                error=detail[:4000],
                finished_at=timezone.now(),
            )
            continue
        except BaseException:
            record_set(
                spec.key,
                state=DemoBuildState.STOPPED,
                error="The build was stopped; the next `make demo` resumes it.",
            )
            raise
        record_set(spec.key, state=DemoBuildState.READY, step="", finished_at=timezone.now())
        log(f"{spec.title}: ready.")
    return ok


# ---- what the pages show ----


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _phantom_progress(expected: int) -> tuple[int, int] | None:
    """Phantom cases rendered so far, while any dataset is still being rendered."""
    kinds = [kind for _n, kind, _s, _c, _seed, _b in DEMO_DATASETS]
    if all((DATA_DIR / kind / "manifest.csv").exists() for kind in kinds):
        return None
    done = sum(len(list((DATA_DIR / kind / "truth").glob("*.json"))) for kind in kinds)
    return min(done, expected), expected


def study_progress(study: Study, expected_cases: int) -> tuple[str, int | None, int | None]:
    """What the builder is doing on ``study``, read from its rows: (step, done, total)."""
    cases = study.cases.count()
    if cases < expected_cases:
        rendering = _phantom_progress(_cases(*DatasetKind.values))
        if rendering is not None:
            return _("rendering phantom cases"), *rendering
        return _("importing phantom cases"), cases, expected_cases
    assets = Asset.objects.filter(case__study=study).count()
    rendered = (
        Rendition.objects.filter(asset__case__study=study, status=RenditionStatus.READY)
        .values("asset")
        .distinct()
        .count()
    )
    if rendered < assets:
        return _("encoding sweep renditions"), rendered, assets
    included = study.cases.filter(excluded=False).count()
    read = AICaseResult.objects.filter(case__study=study).values("case").distinct().count()
    if read < included:
        return _("AI reading cases"), read, included
    return _("finishing (allocation, sessions, reads)"), None, None


@dataclass(frozen=True)
class PanelRow:
    key: str
    title: str
    state: str
    state_label: str
    step: str
    done: int | None
    total: int | None
    error: str
    started_at: Any
    finished_at: Any

    @property
    def percent(self) -> int | None:
        if self.done is None or not self.total:
            return None
        return round(100 * self.done / self.total)


def panel() -> dict[str, Any]:
    """The demo build as the pages show it: rows, whether to keep polling, how many ready.

    Empty when no demo is being built (or every study is ready): the pages show nothing.
    """
    records = list(DemoBuild.objects.all())
    specs = {spec.key: spec for spec in SPECS}
    rows = []
    for record in records:
        state, step, done, total = record.state, record.step, None, None
        if state in (DemoBuildState.PENDING, DemoBuildState.BUILDING) and not _pid_alive(
            record.pid
        ):
            state = DemoBuildState.STOPPED
        if state == DemoBuildState.BUILDING and record.key in specs:
            spec = specs[record.key]
            study = spec.study()
            if study is None:
                rendering = _phantom_progress(_cases(*DatasetKind.values))
                step, done, total = (
                    (_("rendering phantom cases"), *rendering)
                    if rendering
                    else (_("starting"), None, None)
                )
            else:
                live, done, total = study_progress(study, spec.cases)
                step = record.step if (done is None and record.step) else live
        error = record.error
        if state == DemoBuildState.STOPPED and not error:
            error = _("The builder stopped; the next `make demo` resumes the build.")
        rows.append(
            PanelRow(
                key=record.key,
                title=record.title,
                state=state,
                state_label=str(DemoBuildState(state).label),
                step=step,
                done=done,
                total=total,
                error=error,
                started_at=record.started_at,
                finished_at=record.finished_at,
            )
        )
    ready = sum(1 for row in rows if row.state == DemoBuildState.READY)
    active = any(row.state in (DemoBuildState.PENDING, DemoBuildState.BUILDING) for row in rows)
    show = any(row.state != DemoBuildState.READY for row in rows)
    return {"demo_rows": rows if show else [], "demo_polling": active, "demo_ready": ready}
