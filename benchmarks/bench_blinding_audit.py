"""Benchmark: the blinding audit at the paper's scale (555 cases × 2 sources × 6 views).

Builds a throw-away source-blinded study in a temporary SQLite database and media folder:
555 cases, each with an AI and a junior material set of six view renditions (6,660 PNGs).
The material is synthetic: each view is a speckled ultrasound fan (Rayleigh speckle inside
a sector, as tests/analysis/test_blinding_audit.py draws it) with a per-case brightness,
the same process for both sources, put through the platform's canonical rendition code
(``trials.media.render_view``), so both sources are indistinguishable by construction and
the AUC should include 0.5. Then runs the whole audit as the job runs it
(``analysis.blinding.blinding_audit_for_study``): the readers' media route timed over HTTP
as probe readers (``--repeats`` shuffled rounds), image features, the classifier averaged
over ``--seeds`` cross-validation seeds. Target: ≤ 600 s on 2 cores.

    .venv/bin/python benchmarks/bench_blinding_audit.py [--cases 555] [--repeats 5] [--seeds 8]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _fan(rng, brightness: float, size=(300, 400)):
    import numpy as np

    height, width = size
    frame = np.zeros((height, width, 3), np.uint8)
    yy, xx = np.mgrid[:height, :width]
    cx = width / 2
    fan = (
        ((xx - cx) ** 2 + (yy + 40) ** 2 < (height + 20) ** 2)
        & (np.abs(xx - cx) < 0.8 * (yy + 40))
        & (yy > 10)
    )
    speckle = np.clip(rng.rayleigh(40 * brightness, size=(height, width)), 0, 255).astype(np.uint8)
    frame[fan] = speckle[fan, None]
    return frame


def build(n_cases: int, seed: int) -> object:
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile

    from readers.preparation import VIEWS
    from trials.media import render_view
    from trials.models import (
        Case,
        Dataset,
        DatasetKind,
        MaterialSet,
        MaterialSource,
        MaterialStatus,
        Membership,
        Rendition,
        RenditionKind,
        RenditionPurpose,
        RenditionStatus,
        Role,
        Study,
        StudyDesign,
        StudyStatus,
    )

    rng = np.random.default_rng(seed)
    study = Study.objects.create(
        title="Blinding audit benchmark",
        design=StudyDesign.SOURCE_BLINDED,
        status=StudyStatus.DRAFT,
    )
    coordinator = get_user_model().objects.create_user(username="bench-coordinator", password=None)
    Membership.objects.create(study=study, user=coordinator, role=Role.COORDINATOR)
    junior = get_user_model().objects.create_user(username="bench-junior", password=None)
    dataset = Dataset.objects.create(study=study, name="benchmark", kind=DatasetKind.INTERNAL)
    model_id = uuid.uuid4()
    for index in range(n_cases):
        case = Case.objects.create(study=study, dataset=dataset, code=f"BENCH-{index:04d}")
        brightness = float(rng.uniform(0.6, 1.4))
        for source in (MaterialSource.AI, MaterialSource.JUNIOR):
            material = MaterialSet.objects.create(
                case=case,
                source=source,
                status=MaterialStatus.COMPLETE,
                initial_severe=False,
                author_model_id=model_id if source == MaterialSource.AI else None,
                author_model_label="bench model" if source == MaterialSource.AI else "",
                author_user=junior if source == MaterialSource.JUNIOR else None,
            )
            for view in VIEWS:
                rendered = render_view(_fan(rng, brightness))
                rendition = Rendition(
                    case=case,
                    material_set=material,
                    kind=RenditionKind.IMAGE,
                    purpose=RenditionPurpose.MATERIAL_VIEW,
                    view=view,
                    status=RenditionStatus.READY,
                    content_type="image/png",
                    size_bytes=len(rendered.data),
                    frame_index=int(rng.integers(20, 80)),
                )
                rendition.file.save("view.png", ContentFile(rendered.data), save=False)
                rendition.save()
        if (index + 1) % 50 == 0:
            print(f"  built {index + 1}/{n_cases} cases", flush=True)
    return study


def _cpu() -> float:
    """CPU seconds of this process (all threads) and of its finished child processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=555)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", help="write cProfile stats of the audit to this file")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'db.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    import django
    from django.conf import settings

    django.setup()
    settings.MEDIA_ROOT = str(scratch / "media")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    load = os.getloadavg()
    print(
        f"cores: {os.cpu_count()}, load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    started = time.perf_counter()
    study = build(args.cases, args.seed)
    print(
        f"built {args.cases} cases × 2 sources × 6 views in {time.perf_counter() - started:.1f} s"
    )

    from analysis.blinding import blinding_audit_for_study

    steps: dict[str, tuple[float, float]] = {}
    last: list = [time.perf_counter(), _cpu(), ""]

    def progress(done: int, total: int, step: str) -> None:
        now, cpu = time.perf_counter(), _cpu()
        if step != last[2]:
            if last[2]:
                steps[last[2]] = (now - last[0], cpu - last[1])
            last[:] = [now, cpu, step]

    started, cpu_started = time.perf_counter(), _cpu()
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    outcome = blinding_audit_for_study(
        study=study, repeats=args.repeats, n_seeds=args.seeds, seed=args.seed, progress=progress
    )
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    total, cpu_total = time.perf_counter() - started, _cpu() - cpu_started
    steps[last[2]] = (time.perf_counter() - last[0], _cpu() - last[1])
    result = outcome.result
    load = os.getloadavg()
    for step, (seconds, cpu_seconds) in steps.items():
        print(f"  {step}: {seconds:.1f} s wall, {cpu_seconds:.1f} s CPU")
    print(
        f"audit of {outcome.materials} materials ({args.repeats} timing rounds, "
        f"{args.seeds} CV seeds): {total:.1f} s wall, {cpu_total:.1f} s CPU (all threads and "
        f"worker processes; target ≤ 600 s wall on 2 cores)"
    )
    if result is not None:
        print(
            f"AUC {result.auc:.3f} (95 % CI {result.ci.low:.3f}–{result.ci.high:.3f}); per-seed AUC "
            f"{result.seed_auc_range[0]:.3f}–{result.seed_auc_range[1]:.3f}"
        )
    else:
        print(f"no result: {outcome.problem}")
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
