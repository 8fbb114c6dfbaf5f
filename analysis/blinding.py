"""The blinding audit of a source trial: what a reviewer's browser could observe, per material.

Gathers one observation per AI or junior material of the study — the bytes of its
renditions as they are served, the picked frames' positions within their sweeps, how
many views are missing, and the time a reviewer waits for its images — and runs the pure
cross-validated classifier of :mod:`analysis.blinding_audit` (a pure module: no Django,
no app state), averaged over several cross-validation seeds. Only the aggregate result
leaves here; no per-case source is ever returned.

The audit is an analysis: it reads trials and readers and is imported by neither (the
layering of DESIGN.md). It runs as an analysis job (:mod:`analysis.jobs`); its page and
API are :mod:`analysis.blinding_views`.

Serving time is measured where a reviewer measures it: the readers' own media route
(:func:`readers.views.case_media`, an opaque per-assignment slot), over HTTP through the
whole Django stack, as a reader. Not every material has a reviewer's assignment (each
senior sees one source per case), so the audit makes throw-away probe readers — no
tier, no password, reader role only, named ``blinding-probe-…`` — each with a blinded
review session holding one assignment per material, times every material's images
``repeats`` times in a freshly shuffled order (a fixed order would time the storage's
cache state, which follows creation order, not source), keeps the median, and deletes
the probes (and any a stopped run left behind) when done. The probes read nothing, so
no analysis sees them; having no tier, no allocation takes them.
"""

from __future__ import annotations

import random
import secrets
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Prefetch
from django.test import Client
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from scipy.stats import chi2

from analysis.blinding_audit import (
    DEFAULT_SEEDS,
    BlindingAuditResult,
    MaterialObservation,
    audit_features,
    blinding_audit,
)
from analysis.jobs import BLINDING_AUDIT, RUNNERS, Progress, fingerprint, job_get_or_start
from analysis.models import AnalysisJob
from readers.models import Assignment, ReadingSession, SessionPhase
from readers.preparation import VIEWS, view_sweeps
from readers.selectors import assignment_slots
from trials.models import (
    Asset,
    AssetKind,
    MaterialSet,
    MaterialSource,
    MaterialStatus,
    Membership,
    Rendition,
    RenditionKind,
    RenditionPurpose,
    Role,
    Study,
)

#: How often each material's images are fetched through the readers' media route.
DEFAULT_REPEATS = 5
#: The latency grid's step in standard errors of a material's median time (see
#: :func:`_at_repeatability`): half a step is 3 standard errors.
NOISE_STEPS = 6.0
#: Threads for the image features and the forests: every core of the worker (the audit is
#: the worker's one job while it runs; the result does not depend on it).
AUDIT_N_JOBS = -1
PROBE_PREFIX = "blinding-probe-"

#: progress(done, total, step): see :class:`analysis.jobs.Progress`.
ProgressFn = Callable[[int, int, str], None]


@dataclass(frozen=True)
class BlindingAuditOutcome:
    """The audit's result, or why it could not run; ``scope`` says which materials."""

    result: BlindingAuditResult | None
    scope: str
    materials: int
    problem: str = ""
    repeats: int = DEFAULT_REPEATS

    def as_dict(self) -> dict[str, Any]:
        """The aggregate as the page and the API show it (nothing per material)."""
        result = self.result
        return {
            "scope": self.scope,
            "materials": self.materials,
            "problem": self.problem or None,
            "result": None
            if result is None
            else {
                "auc": result.auc,
                "ci_low": result.ci.low,
                "ci_high": result.ci.high,
                "n_ai": result.n_ai,
                "n_junior": result.n_junior,
                "distinguishable": result.distinguishable,
                "warning": result.warning,
                "method": result.method,
                "top_features": [name for name, _weight in result.top_features],
                "seeds": result.n_seeds,
                "seed_auc_range": list(result.seed_auc_range),
                "timing_repeats": self.repeats,
            },
        }


def _materials(study: Study) -> tuple[list[MaterialSet], str]:
    """Every complete AI and junior material of the cases that have both sources.

    Not only the allocated ones: the allocation shows each senior one source per case, so
    its AI and junior arms hold different cases, and case differences would pass for
    source cues. With both sources of the same cases (grouped by case in the
    cross-validation) only the sources differ.
    """
    base = MaterialSet.objects.filter(
        case__study=study,
        source__in=[MaterialSource.AI, MaterialSource.JUNIOR],
        status=MaterialStatus.COMPLETE,
    )
    sources_per_case: dict[uuid.UUID, set[str]] = {}
    for case_id, source in base.values_list("case_id", "source"):
        sources_per_case.setdefault(case_id, set()).add(source)
    paired = [case_id for case_id, sources in sources_per_case.items() if len(sources) == 2]
    views = Prefetch("renditions", Rendition.objects.filter(purpose=RenditionPurpose.MATERIAL_VIEW))
    materials = list(base.filter(case_id__in=paired).prefetch_related(views))
    return materials, _("AI and junior material of the %d cases that have both") % len(paired)


def _probe_users(study: Study) -> Any:
    return get_user_model().objects.filter(
        username__startswith=f"{PROBE_PREFIX}{study.pk.hex[:12]}-"
    )


def probe_cleanup(study: Study) -> int:
    """Delete the audit's probe readers of ``study`` (and their sessions); how many there were."""
    users = _probe_users(study)
    count = users.count()
    if count:
        with transaction.atomic():
            Assignment.objects.filter(session__reader__in=users, session__study=study).delete()
            ReadingSession.objects.filter(reader__in=users, study=study).delete()
            Membership.objects.filter(user__in=users, study=study).delete()
            users.delete()
    return count


@contextmanager
def probe_assignments(
    study: Study, materials: list[MaterialSet]
) -> Iterator[dict[object, tuple[Any, Assignment]]]:
    """Per material: a probe reader and his blinded-review assignment showing it (module doc).

    A case's materials go to different probes (an assignment holds one case once).
    """
    probe_cleanup(study)
    per_case: dict[object, list[MaterialSet]] = {}
    for material in materials:
        per_case.setdefault(material.case_id, []).append(material)
    n_probes = max((len(m) for m in per_case.values()), default=0)
    made: dict[object, tuple[Any, Assignment]] = {}
    try:
        with transaction.atomic():
            for index in range(n_probes):
                user = get_user_model().objects.create_user(
                    username=f"{PROBE_PREFIX}{study.pk.hex[:12]}-{index}-{secrets.token_hex(4)}",
                    password=None,
                )
                Membership.objects.create(study=study, user=user, role=Role.READER)
                session = ReadingSession.objects.create(
                    study=study,
                    reader=user,
                    phase=SessionPhase.BLINDED_REVIEW,
                    order_seed=0,
                    case_order=[],
                )
                mine = [ms[index] for ms in per_case.values() if len(ms) > index]
                assignments = Assignment.objects.bulk_create(
                    [
                        Assignment(
                            session=session,
                            position=position,
                            case_id=material.case_id,
                            material_set=material,
                        )
                        for position, material in enumerate(mine)
                    ]
                )
                for material, assignment in zip(mine, assignments, strict=True):
                    assignment.session = session
                    made[material.pk] = (user, assignment)
        yield made
    finally:
        probe_cleanup(study)


def serving_latencies(
    materials: list[MaterialSet],
    *,
    seed: int,
    study: Study,
    repeats: int = DEFAULT_REPEATS,
    progress: ProgressFn | None = None,
) -> dict[object, float]:
    """Median time (ms) to fetch each material's images through the readers' media route."""
    timings = serving_times(materials, seed=seed, study=study, repeats=repeats, progress=progress)
    return _at_repeatability(timings, repeats)


def serving_times(
    materials: list[MaterialSet],
    *,
    seed: int,
    study: Study,
    repeats: int = DEFAULT_REPEATS,
    progress: ProgressFn | None = None,
) -> dict[object, list[float]]:
    """Each round's time (ms) to fetch each material's images through the readers' media route.

    As a reader, over HTTP through the whole Django stack, each image by its opaque slot of
    a probe's assignment (the module doc); ``repeats`` rounds, each in a new shuffled order.
    """
    rng = random.Random(seed)
    timings: dict[object, list[float]] = {m.pk: [] for m in materials}
    total = repeats * len(materials)
    with probe_assignments(study, materials) as probes:
        clients: dict[object, Client] = {}
        urls: dict[object, list[str]] = {}
        for material in materials:
            user, assignment = probes[material.pk]
            if user.pk not in clients:
                clients[user.pk] = Client(HTTP_HOST=_serving_host())
                clients[user.pk].force_login(user)
            urls[material.pk] = [
                reverse("readers:media", args=[assignment.token, slot.name])
                for slot in assignment_slots(assignment=assignment)
                if slot.group == "material" and slot.kind == RenditionKind.IMAGE and slot.available
            ]
        done = 0
        for _repeat in range(repeats):
            order = list(materials)
            rng.shuffle(order)
            for material in order:
                client = clients[probes[material.pk][0].pk]
                started = time.perf_counter()
                for url in urls[material.pk]:
                    response = client.get(url, secure=True)
                    if response.status_code != 200:
                        raise RuntimeError(
                            f"the readers' media route answered {response.status_code}"
                        )
                    b"".join(response.streaming_content)  # type: ignore[attr-defined]
                timings[material.pk].append((time.perf_counter() - started) * 1000.0)
                done += 1
                if progress:
                    progress(done, total, gettext_noop("Timing the readers' media route"))
    return timings


def _at_repeatability(timings: dict[object, list[float]], repeats: int) -> dict[object, float]:
    """Each material's median time, in steps that measurement noise does not cross.

    Two runs time the route afresh, so their medians differ by measurement noise; a
    classifier fed those digits grows other trees from run to run for no observable
    reason, and the AUC moved by 0.01–0.02 between runs (issue 17). So the median is
    placed on a grid centred on the median over all materials, with a step of
    ``NOISE_STEPS`` standard errors of a median of ``repeats`` rounds (1.2533 σ / √repeats;
    σ, one load's spread, from the median over materials of the rounds' standard
    deviation, divided by that median's expectation for normal noise, √(χ²₀.₅(r−1)/(r−1)),
    since a few rounds understate it): where the sources are served alike, a material
    leaves the centre step in about 2 runs in 1,000 (4 with heavy-tailed noise, t₃;
    simulated) and the forest sees the same feature in every run. The price is
    resolution: a serving-time difference between the sources is found when it is about
    a step or more (at the default 5 repeats, 3.4 times the spread of one load of a
    material's views; more repeats make the step finer as 1/√repeats), since it moves
    one source's materials off the centre.
    """
    medians = {pk: statistics.median(values) for pk, values in timings.items()}
    if repeats < 2 or not medians:
        return medians
    spreads = [statistics.stdev(values) for values in timings.values()]
    sigma = statistics.median(spreads) / (chi2.ppf(0.5, repeats - 1) / (repeats - 1)) ** 0.5
    step = NOISE_STEPS * 1.2533 * sigma / repeats**0.5
    if step <= 0:
        return medians
    middle = statistics.median(medians.values())
    return {pk: float(round((value - middle) / step)) for pk, value in medians.items()}


def _serving_host() -> str:
    hosts = [h for h in settings.ALLOWED_HOSTS if h not in ("*", "") and not h.startswith(".")]
    return hosts[0] if hosts else "localhost"


def material_observation(
    material: MaterialSet, frame_counts: dict[tuple[str, str], int], latency_ms: float = 0.0
) -> MaterialObservation:
    """What a reviewer's browser could observe of one material set."""
    images: dict[str, bytes] = {}
    positions: dict[str, float] = {}
    missing = 0
    for rendition in material.renditions.all():
        if rendition.kind != RenditionKind.IMAGE or rendition.view not in VIEWS:
            continue
        if rendition.not_obtainable or not rendition.file:
            missing += 1
            continue
        with rendition.file.open("rb") as handle:
            images[rendition.view] = handle.read()
        # the view's sweep (MSV of left and right sagittal sweeps: the longer of the two)
        case_id = str(material.case_id)
        options = view_sweeps(o for c, o in frame_counts if c == case_id)[rendition.view]
        count = max(frame_counts.get((case_id, o), 0) for o in options)
        if rendition.frame_index is not None and count:
            positions[rendition.view] = rendition.frame_index / count
    return MaterialObservation(
        source=material.source,
        images=images,
        frame_positions=positions,
        missing_views=missing,
        latency_ms=latency_ms,
        group=str(material.case_id),
    )


def audit_snapshot_parts(study: Study) -> list[Any]:
    """What the audit's result depends on: the paired materials and their view renditions."""
    materials, _scope = _materials(study)
    parts: list[Any] = []
    for material in sorted(materials, key=lambda m: str(m.pk)):
        parts.append(material.pk)
        parts.extend(
            (r.pk, r.file.name, r.not_obtainable, r.frame_index) for r in material.renditions.all()
        )
    return parts


def blinding_audit_for_study(
    *,
    study: Study,
    seed: int = 0,
    repeats: int = DEFAULT_REPEATS,
    n_seeds: int | None = None,
    progress: ProgressFn | None = None,
) -> BlindingAuditOutcome:
    """Run the blinding audit over the study's AI and junior material (aggregate only).

    ``progress(done, total, step)`` as it goes: timing, then features, then the seeds.
    """
    n_seeds = n_seeds or DEFAULT_SEEDS
    materials, scope = _materials(study)
    frame_counts = {
        (str(case_id), orientation): count
        for case_id, orientation, count in Asset.objects.filter(
            case__study=study, kind=AssetKind.SWEEP_VIDEO
        )
        .order_by("-created")
        .values_list("case_id", "orientation", "frame_count")
    }
    sources = {m.source for m in materials}
    if len(materials) < 10 or len(sources) < 2:
        # Too few to classify: say so without timing anything.
        counts = {
            s: sum(m.source == s for m in materials)
            for s in (MaterialSource.AI, MaterialSource.JUNIOR)
        }
        problem = (
            f"the audit needs at least 5 materials of each source "
            f"(AI {counts[MaterialSource.AI]}, junior {counts[MaterialSource.JUNIOR]})"
        )
        if min(counts.values()) < 5:
            return BlindingAuditOutcome(None, scope, len(materials), problem, repeats)
    latencies = serving_latencies(
        materials, seed=seed, study=study, repeats=repeats, progress=progress
    )
    observations = [material_observation(m, frame_counts, latencies[m.pk]) for m in materials]

    def feature_progress(done: int, total: int) -> None:
        if progress:
            progress(done, total, gettext_noop("Measuring the images"))

    def seed_progress(done: int, total: int) -> None:
        if progress:
            progress(done, total, gettext_noop("Cross-validating the source classifier"))

    try:
        features = audit_features(
            observations, VIEWS, progress=feature_progress, n_jobs=AUDIT_N_JOBS
        )
        result = blinding_audit(
            observations,
            VIEWS,
            seed=seed,
            n_seeds=n_seeds,
            features=features,
            progress=seed_progress,
            n_jobs=AUDIT_N_JOBS,
        )
    except ValueError as exc:
        return BlindingAuditOutcome(None, scope, len(observations), str(exc), repeats)
    return BlindingAuditOutcome(result, scope, len(observations), repeats=repeats)


def blinding_audit_job(study: Study, actor: Any, *, again: bool = False) -> AnalysisJob:
    """The blinding audit's job for the study's current material (started if there is none).

    The audit runs as an analysis job (:mod:`analysis.jobs`, the one job mechanism) on the
    ``default`` queue; a request only starts or shows it. ``again`` reruns a finished one.
    """
    return job_get_or_start(
        study=study,
        kind=BLINDING_AUDIT,
        actor=actor,
        snapshot=fingerprint(audit_snapshot_parts(study)),
        again=again,
    )


def _blinding_audit_runner(
    job: AnalysisJob, progress: Progress
) -> tuple[dict[str, Any], tuple[str, bytes] | None]:
    """The ``blinding_audit`` job: :func:`blinding_audit_for_study` with the job's seed."""
    outcome = blinding_audit_for_study(
        study=job.study, progress=progress, seed=int(job.params.get("seed", 0))
    )
    return outcome.as_dict(), None


def register_runner() -> None:
    """Add the ``blinding_audit`` runner to the analysis job mechanism (idempotent)."""
    RUNNERS.setdefault(BLINDING_AUDIT, _blinding_audit_runner)
