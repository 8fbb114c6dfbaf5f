"""A small blinded source trial on the demo's phantom cases.

- Cases: the demo's internal and external phantom datasets (their original sweeps).
- AI material: made by the ``ai_material`` the caller passes (the demo builder passes
  :func:`inference.demo.demo_ai_material`: the shipped demo NCLS models, or where none
  ship a stand-in that reads the phantom's truth). Readers and inference are independent
  siblings: only the demo builder above both knows them together.
- Junior material: the phantom's junior-picked view PNGs (manifest ``view_<VIEW>``
  columns) imported through :func:`readers.preparation.material_import`, one set per case
  (the allocated junior where the allocation says junior, a random junior otherwise, so
  the material list does not mirror the allocation).
- One senior reviews; the study is left open for him. Idempotent: an existing demo
  trial is returned as it is. Its blinding audit is an analysis
  (:func:`analysis.blinding.blinding_audit_for_study`), run by whoever builds the demo.
"""

from __future__ import annotations

import csv
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction

from readers import services
from readers.preparation import VIEWS, material_import
from readers.source_trial import study_juniors_seniors
from trials import services as trial_services
from trials.demo import DEMO_USERS, demo_users, generate_phantom_cases, manifest_imported
from trials.models import (
    Allocation,
    DatasetKind,
    MaterialSet,
    MaterialSource,
    Role,
    Study,
    StudyDesign,
    StudyStatus,
)
from trials.services.allocation import allocation_generate

TITLE = "NCLS demo blinded source trial (phantom data)"
SEED = 2026
#: How often the simulated junior's initial diagnosis disagrees with the label.
JUNIOR_ERROR = 0.2


@dataclass(frozen=True)
class SourceTrialDemo:
    """The demo trial and its number of cases."""

    study: Study
    cases: int


class AIMaterial(Protocol):
    """Makes the AI's material of a demo study's included cases."""

    def __call__(self, *, study: Study, phantom_dirs: dict[str, Path]) -> None:
        """``phantom_dirs``: the phantom directory each dataset kind was imported from."""


def _junior_manifest(study: Study, manifests: list[Path], juniors: list[Any], out: Path) -> Path:
    """The phantom's view columns with an author and a simulated initial diagnosis."""
    allocated = {
        (str(e.case.code)): e.junior.get_username()
        for e in Allocation.objects.filter(
            allocation_list__study=study, source="junior"
        ).select_related("case", "junior")
        if e.junior is not None
    }
    rng = random.Random(SEED + 1)
    names = [j.get_username() for j in juniors]
    rows = []
    for manifest in manifests:
        with manifest.open(newline="") as handle:
            for row in csv.DictReader(handle):
                if row["excluded"] == "1":
                    continue
                severe = bool({"hydrocephalus", "pvl"} & set(row["conditions"].split(";"))) or (
                    "ivh" in row["conditions"] and row["ivh_grade"] in ("3", "4")
                )
                if rng.random() < JUNIOR_ERROR:
                    severe = not severe
                author = allocated.get(row["code"]) or rng.choice(names)
                cells = {}
                for view in VIEWS:
                    cells[f"view_{view}"] = ""
                    if row[f"view_{view}"]:
                        name = f"{manifest.parent.name}/{row[f'view_{view}']}"
                        (out / name).parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(manifest.parent / row[f"view_{view}"], out / name)
                        cells[f"view_{view}"] = name
                rows.append(
                    {
                        "code": row["code"],
                        "author": author,
                        "initial_severe": "yes" if severe else "no",
                        **cells,
                    }
                )
    target = out / "manifest.csv"
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return target


def build_source_trial_demo(
    *, ai_material: AIMaterial, data_dir: Path | None = None
) -> SourceTrialDemo:
    """Build (once) the demo source trial.

    Resumable: a trial left in draft by an interrupted build continues where it stopped
    (every step below is skipped once done, or idempotent)."""
    users = demo_users()
    existing = Study.objects.filter(title=TITLE, is_demo=True).first()
    if existing is not None and existing.status != StudyStatus.DRAFT:
        return SourceTrialDemo(existing, existing.cases.count())
    coordinator = users["coordinator"]
    data_dir = data_dir or Path(settings.BASE_DIR) / "var" / "demo-data"
    manifests = [
        m for m in generate_phantom_cases(data_dir) if m.parent.name != DatasetKind.BLIND_SWEEP
    ]
    study = existing
    if study is None:
        with transaction.atomic():
            study = trial_services.study_create(
                actor=coordinator,
                title=TITLE,
                design=StudyDesign.SOURCE_BLINDED,
                registry_id="DEMO-0002",
                is_demo=True,
            )
            for username, role, tier in DEMO_USERS:
                trial_services.membership_add(
                    actor=coordinator, study=study, user=users[username], role=role
                )
                if role == Role.READER and tier in ("junior", "senior"):
                    services.reader_enrol(
                        actor=coordinator,
                        study=study,
                        user=users[username],
                        tier=tier,
                        years_experience=2 if tier == "junior" else 15,
                    )
    for manifest in manifests:
        if manifest_imported(study, manifest):
            continue
        kind = manifest.parent.name
        name = "Internal test" if kind == DatasetKind.INTERNAL else "External test"
        if not study.datasets.filter(name=name).exists():
            trial_services.dataset_create(actor=coordinator, study=study, name=name, kind=kind)
        report = trial_services.case_import(
            actor=coordinator, study=study, manifest=manifest, dry_run=False
        )
        if not report.ok:
            raise RuntimeError(f"demo import of {manifest} failed: {report.problems[:3]}")
    ai_material(study=study, phantom_dirs={m.parent.name: m.parent for m in manifests})
    juniors, seniors = study_juniors_seniors(study)
    if not Allocation.objects.filter(allocation_list__study=study).exists():
        allocation_generate(
            actor=coordinator,
            study=study,
            juniors=juniors,
            seniors=seniors,
            stratify_by="probe_type",
        )
    if not MaterialSet.objects.filter(case__study=study, source=MaterialSource.JUNIOR).exists():
        with tempfile.TemporaryDirectory() as scratch:
            manifest = _junior_manifest(study, manifests, juniors, Path(scratch))
            imported = material_import(
                actor=coordinator, study=study, manifest=manifest, dry_run=False
            )
        if not imported.ok:
            raise RuntimeError(f"demo junior material import failed: {imported.problems[:3]}")
    services.session_create_for_design(actor=coordinator, study=study, seed=SEED)
    if study.status == StudyStatus.DRAFT:
        study = trial_services.study_transition(actor=coordinator, study=study, to=StudyStatus.OPEN)
    return SourceTrialDemo(study, study.cases.count())


PRACTICE_TITLE = "NCLS demo — reading practice (phantom data)"


def build_practice_study(*, ai_material: AIMaterial, data_dir: Path | None = None) -> Study:
    """An open crossover study with no washout, where every demo reader can read for real.

    The internal phantom dataset only; the AI's material comes from ``ai_material`` (in
    the demo: the shipped demo models, or the stand-in), so the aided session shows it.
    Idempotent; one left in draft by an interrupted build is resumed.
    """
    users = demo_users()
    existing = Study.objects.filter(title=PRACTICE_TITLE, is_demo=True).first()
    if existing is not None and existing.status != StudyStatus.DRAFT:
        return existing
    coordinator = users["coordinator"]
    data_dir = data_dir or Path(settings.BASE_DIR) / "var" / "demo-data"
    manifests = [
        m for m in generate_phantom_cases(data_dir) if m.parent.name == DatasetKind.INTERNAL
    ]
    study = existing or _create_practice_study(coordinator, users)
    for manifest in manifests:
        if manifest_imported(study, manifest):
            continue
        report = trial_services.case_import(
            actor=coordinator, study=study, manifest=manifest, dry_run=False
        )
        if not report.ok:
            raise RuntimeError(f"practice import of {manifest} failed: {report.problems[:3]}")
    ai_material(study=study, phantom_dirs={m.parent.name: m.parent for m in manifests})
    services.session_create_for_design(actor=coordinator, study=study, seed=SEED)
    return trial_services.study_transition(actor=coordinator, study=study, to=StudyStatus.OPEN)


def _create_practice_study(coordinator: Any, users: dict[str, Any]) -> Study:
    with transaction.atomic():
        study = trial_services.study_create(
            actor=coordinator,
            title=PRACTICE_TITLE,
            design=StudyDesign.ASSISTED_CROSSOVER,
            registry_id="DEMO-0003",
            washout_days=0,
            is_demo=True,
        )
        for username, role, tier in DEMO_USERS:
            if role == Role.READER:
                services.reader_enrol(
                    actor=coordinator,
                    study=study,
                    user=users[username],
                    tier=tier,
                    years_experience={"junior": 2, "mid_level": 6}.get(tier, 15),
                )
            else:
                trial_services.membership_add(
                    actor=coordinator, study=study, user=users[username], role=role
                )
        trial_services.dataset_create(
            actor=coordinator, study=study, name="Internal test", kind=DatasetKind.INTERNAL
        )
    return study
