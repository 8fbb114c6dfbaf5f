"""The demo study: three sites, three datasets, phantom cases, demo users.

Demo users exist only in the database this builds (``manage.py load_demo``), never by
default. The study is flagged ``is_demo`` so every page of it carries the demo banner.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction

from trials import services
from trials.models import DatasetKind, Role, Study, StudyDesign, StudyStatus
from trials.permissions import STUDY_CREATE_PERMISSION

TITLE = "NCLS demo reader study (phantom data)"
DEMO_PASSWORD = "fontanelle-demo-2026"  # noqa: S105 (printed to the person who built the demo)

#: (username, role, reader tier or "") of the demo users.
DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("coordinator", Role.COORDINATOR, ""),
    ("statistician", Role.STATISTICIAN, ""),
    *((f"junior{i}", Role.READER, "junior") for i in range(1, 4)),
    *((f"mid{i}", Role.READER, "mid_level") for i in range(1, 3)),
    ("senior1", Role.READER, "senior"),
)

#: Years of CUS experience of the demo readers, by tier.
DEMO_YEARS: dict[str, int] = {"junior": 2, "mid_level": 6, "senior": 15}

#: (dataset name, kind, site, cases, seed, blind sweep)
DEMO_DATASETS: tuple[tuple[str, str, str, int, int, bool], ...] = (
    ("Internal test", DatasetKind.INTERNAL, "Hospital A", 24, 101, False),
    ("External test", DatasetKind.EXTERNAL, "Hospital B", 24, 202, False),
    ("Blind sweeps", DatasetKind.BLIND_SWEEP, "Hospital C", 12, 303, True),
)


@dataclass
class DemoResult:
    study: Study
    users: dict[str, Any]
    cases: int


def demo_users() -> dict[str, Any]:
    """Create (or reuse) the demo accounts; the coordinator may create studies."""
    user_model = get_user_model()
    users = {}
    for username, _role, _tier in DEMO_USERS:
        user, created = user_model.objects.get_or_create(username=username)
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        users[username] = user
    app_label, codename = STUDY_CREATE_PERMISSION.split(".")
    users["coordinator"].user_permissions.add(
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
    )
    return users


def generate_phantom_cases(out: Path) -> list[Path]:
    """Render the demo's phantom cases (one manifest per dataset, in parallel); cached on disk."""
    manifests = []
    running: list[subprocess.Popen[bytes]] = []
    for name, kind, site, count, seed, blind in DEMO_DATASETS:
        target = out / kind
        manifest = target / "manifest.csv"
        if not manifest.exists():
            command = [
                sys.executable,
                "-m",
                "inference.phantom",
                "generate",
                "--cases",
                str(count),
                "--out",
                str(target),
                "--seed",
                str(seed),
                "--dataset",
                name,
                "--dataset-kind",
                kind,
                "--site",
                site,
                "--severe-prevalence",
                "0.12",
                "--frames-min",
                "80",
                "--frames-max",
                "110",
                "--dota-every",
                "0",
            ]
            if blind:
                command.append("--blind-sweep")
            command.append("--quiet")
            print(f"  rendering {count} phantom cases for {name} ...", flush=True)
            # Their own session: a Ctrl-C stops the build, which stops them (below).
            running.append(subprocess.Popen(command, start_new_session=True))
        manifests.append(manifest)
    try:
        for process in running:
            if process.wait() != 0:
                # Every process here was started from a list of arguments (above).
                command_line = " ".join(map(str, cast(list[str], process.args)))
                raise RuntimeError(f"phantom generation failed: {command_line}")
    finally:
        for process in running:
            if process.poll() is None:
                process.terminate()
                process.wait()
    return manifests


def manifest_imported(study: Study, manifest: Path) -> bool:
    """Whether the cases of a demo manifest (one dataset kind, imported all or nothing) are in."""
    return study.cases.filter(dataset__kind=manifest.parent.name).exists()


def build_demo_study(*, data_dir: Path | None = None) -> DemoResult:
    """Build the demo study with phantom cases; idempotent and resumable: an existing study
    gets only the datasets whose import did not happen (an interrupted build)."""
    users = demo_users()
    existing = Study.objects.filter(title=TITLE, is_demo=True).first()
    if existing is not None and existing.status != StudyStatus.DRAFT:
        return DemoResult(existing, users, existing.cases.count())
    coordinator = users["coordinator"]
    study = existing or _create_demo_study(coordinator, users)
    data_dir = data_dir or Path(settings.BASE_DIR) / "var" / "demo-data"
    for manifest in generate_phantom_cases(data_dir):
        if manifest_imported(study, manifest):
            continue
        report = services.case_import(
            actor=coordinator, study=study, manifest=manifest, dry_run=False
        )
        if not report.ok:
            problems = "; ".join(
                f"row {p.row} {p.column}: {p.message}" for p in report.problems[:5]
            )
            raise RuntimeError(f"demo import of {manifest} failed: {problems}")
    return DemoResult(study, users, study.cases.count())


def _create_demo_study(coordinator: Any, users: dict[str, Any]) -> Study:
    with transaction.atomic():
        study = services.study_create(
            actor=coordinator,
            title=TITLE,
            design=StudyDesign.ASSISTED_CROSSOVER,
            registry_id="DEMO-0001",
            collects_rating=True,  # the simulated readers rate too (analysis.demo)
            is_demo=True,
        )
        for username, role, tier in DEMO_USERS:
            services.membership_add(
                actor=coordinator,
                study=study,
                user=users[username],
                role=role,
                tier=tier,
                years_experience=DEMO_YEARS.get(tier, 0),
            )
        for name, kind, site_name, _count, _seed, _blind in DEMO_DATASETS:
            site = services.site_create(actor=coordinator, study=study, name=site_name)
            services.dataset_create(actor=coordinator, study=study, name=name, kind=kind, site=site)
    return study
