"""Fill the demo study with simulated reads so every analysis report renders on it.

The reader simulator (:mod:`analysis.simulation`) reads the demo study's own cases
(their gold standard, probe and gestational age) with the demo readers; the reads are
written through the readers app's models as a finished study would hold them:

- unaided sessions for the junior and mid-level readers, aided sessions for the juniors
  (each aided case shows the AI's material);
- a blinded review session for the senior, each case with material (initial diagnosis)
  from the AI or from a junior, the source guess in ``Read.answer["source_guess"]``;
- qualitative sessions for two raters (the senior and the first mid-level reader: the
  demo has one senior) on the blind-sweep cases, ``Read.answer["scores"]``.

Where the study collects probability-of-severe ratings (the demo reader study does), the
simulated readers' ratings come from their latent values (``SimulationConfig.ratings``);
a blinded review's rating follows its call (90 or 10).

Where no AI model has read the study, a simulated AI (a demo model, not for clinical
use) gets a result and a material set per case. The study then goes draft → open →
locked → unblinded, so the blinded report can be shown; locking and unblinding are signed
electronically by the study's coordinator with his password (the demo coordinator's
known one, :data:`trials.demo.DEMO_PASSWORD`, unless told another). Idempotent: a study
that holds reads already is left as it is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone

from analysis.frames import AI_READER, READER_RATING_COLUMN
from analysis.selectors import study_cases_frame
from analysis.simulation import SimulationConfig, simulate_study
from inference.models import AICaseResult, ModelVersion, ResultStatus
from inference.selectors import ai_predictions
from readers.models import Assignment, Read, ReadingSession, SessionPhase
from trials.models import (
    Case,
    DatasetKind,
    MaterialSet,
    MaterialSource,
    MaterialStatus,
    Membership,
    Role,
    Study,
    StudyStatus,
)

DEMO_SEED = 2026
SIMULATED_AI_NAME = "simulated-reader-ai"


@dataclass(frozen=True)
class DemoReads:
    """What :func:`fill_demo_reads` wrote."""

    reads: int
    blinded_reviews: int
    qualitative_reads: int
    skipped: str = ""


def _readers_by_tier(study: Study) -> dict[str, list[Any]]:
    """The study's readers by their tier in it."""
    tiers: dict[str, list[Any]] = {"junior": [], "mid_level": [], "senior": []}
    members = Membership.objects.filter(study=study, role=Role.READER).select_related("user")
    for member in members.order_by("user__username"):
        if member.tier in tiers:
            tiers[member.tier].append(member.user)
    return tiers


def _ai_materials(
    study: Study, case_ids: dict[str, Case], data_ai: pd.DataFrame
) -> dict[str, MaterialSet]:
    """The AI's material set per case code; a simulated AI is registered where none read."""
    existing = {
        m.case.code: m
        for m in MaterialSet.objects.filter(
            case__study=study, source=MaterialSource.AI, status=MaterialStatus.COMPLETE
        ).select_related("case")
    }
    if ai_predictions(study=study) and existing:
        return existing
    model, _created = ModelVersion.objects.get_or_create(
        name=SIMULATED_AI_NAME,
        version="1",
        defaults={
            "profile": "simulated",
            "directory": "",
            "is_demo": True,
            "metrics": {"note": "reader simulator, not a trained model"},
        },
    )
    materials = {}
    for row in data_ai.itertuples(index=False):
        case = case_ids[row.case]
        probability = float(row.rating) / 100.0
        material = MaterialSet.objects.create(
            case=case,
            source=MaterialSource.AI,
            author_model_id=model.pk,
            author_model_label=f"{SIMULATED_AI_NAME} 1 (demo model, not for clinical use)",
            status=MaterialStatus.COMPLETE,
            initial_severe=bool(row.decision),
            initial_probability=probability,
        )
        AICaseResult.objects.create(
            case=case,
            model_version=model,
            status=ResultStatus.COMPLETE,
            material_set=material,
            severe_probability=probability,
            severe=bool(row.decision),
            rule="simulated",
            read_time_s=float(row.read_time_s) if np.isfinite(row.read_time_s) else None,
        )
        materials[row.case] = material
    return materials


def _session(study: Study, reader: Any, phase: str, codes: list[str], seed: int) -> ReadingSession:
    session, _created = ReadingSession.objects.get_or_create(
        study=study, reader=reader, phase=phase, defaults={"order_seed": seed, "case_order": []}
    )
    return session


def _write(
    study: Study,
    reader: Any,
    phase: str,
    rows: list[dict[str, Any]],
    case_ids: dict[str, Case],
    start: Any,
    seed: int,
) -> int:
    """One reader's session in ``phase`` with a read per row (keys: case, severe, confidence,
    seconds, material, answer, rating)."""
    rng = np.random.default_rng(seed)
    order = [rows[i] for i in rng.permutation(len(rows))]
    session = _session(study, reader, phase, [r["case"] for r in order], seed)
    taken = set(session.assignments.values_list("case__code", flat=True))
    position = session.assignments.count()
    clock = start
    reads = []
    for row in order:
        if row["case"] in taken:
            continue
        position += 1
        seconds = max(float(row["seconds"]), 0.5)
        served = clock
        answered = served + timedelta(seconds=seconds)
        clock = answered + timedelta(seconds=5)
        assignment = Assignment.objects.create(
            session=session,
            position=position,
            case=case_ids[row["case"]],
            material_set=row.get("material"),
            served_at=served,
            answered_at=answered,
            last_seen_at=answered,
            active_ms=int(seconds * 1000),
        )
        reads.append(
            Read(
                assignment=assignment,
                reader=reader,
                client_event_id=uuid.uuid4(),
                severe=bool(row["severe"]),
                confidence=int(row["confidence"]),
                rating=row.get("rating"),
                answer=row.get("answer", {}),
                served_at=served,
                answered_at=answered,
                wall_ms=int(seconds * 1000),
                active_ms=int(seconds * 1000),
            )
        )
    Read.objects.bulk_create(reads)
    session.case_order = [
        str(a) for a in session.assignments.order_by("position").values_list("case_id", flat=True)
    ]
    session.started_at = session.started_at or start
    session.completed_at = clock
    session.save(update_fields=["case_order", "started_at", "completed_at", "modified"])
    return len(reads)


@transaction.atomic
def fill_demo_reads(
    study: Study, *, seed: int = DEMO_SEED, coordinator_password: str | None = None
) -> DemoReads:
    """Simulate and store every read of the demo study (see the module docstring).

    ``coordinator_password`` signs the lock and the unblinding (default: the demo's).
    """
    if Read.objects.filter(assignment__session__study=study).exists():
        return DemoReads(0, 0, 0, skipped="the study holds reads already")
    cases = study_cases_frame(study=study)
    if cases.empty:
        return DemoReads(0, 0, 0, skipped="the study has no cases with a gold standard")
    blind_names = set(
        study.datasets.filter(kind=DatasetKind.BLIND_SWEEP).values_list("name", flat=True)
    )
    read_cases = cases[~cases["dataset"].isin(blind_names)].reset_index(drop=True)
    sweep_cases = cases.loc[cases["dataset"].isin(blind_names), "case"].tolist()
    tiers = _readers_by_tier(study)
    names = {tier: [u.get_username() for u in users] for tier, users in tiers.items()}
    users = {u.get_username(): u for group in tiers.values() for u in group}
    rated = study.collects_rating  # simulated readers then rate from their latent values too
    config = SimulationConfig(seed=seed, prevalence=0.2, ratings=rated)
    data = simulate_study(
        config, cases=read_cases, qualitative_cases=sweep_cases, readers=names, title=study.title
    )
    case_ids = {c.code: c for c in Case.objects.filter(study=study)}
    materials = _ai_materials(study, case_ids, data.reads[data.reads["reader"] == AI_READER])
    start = timezone.now() - timedelta(days=60)
    total = 0
    for index, ((reader, modality), rows) in enumerate(
        data.reads[data.reads["reader"] != AI_READER].groupby(["reader", "modality"], sort=True)
    ):
        phase = SessionPhase.AIDED if modality == "aided" else SessionPhase.UNAIDED
        offset = timedelta(days=35) if phase == SessionPhase.AIDED else timedelta(0)
        payload = [
            {
                "case": r.case,
                "severe": r.decision,
                "confidence": r.confidence,
                "seconds": r.read_time_s,
                "material": materials.get(r.case) if phase == SessionPhase.AIDED else None,
                "rating": int(getattr(r, READER_RATING_COLUMN)) if rated else None,
            }
            for r in rows.itertuples(index=False)
        ]
        total += _write(
            study, users[reader], phase, payload, case_ids, start + offset, seed + index
        )

    blinded = 0
    for index, (senior, rows) in enumerate(data.blinded.groupby("senior", sort=True)):
        payload = []
        for r in rows.itertuples(index=False):
            if r.arm == "ai":
                material = materials[r.case]
            else:
                material = MaterialSet.objects.create(
                    case=case_ids[r.case],
                    source=MaterialSource.JUNIOR,
                    author_user=users[r.author],
                    status=MaterialStatus.COMPLETE,
                    initial_severe=bool(r.initial_decision),
                )
            payload.append(
                {
                    "case": r.case,
                    "severe": r.secondary_decision,
                    "confidence": 80,
                    "rating": (90 if r.secondary_decision else 10) if rated else None,
                    "seconds": r.read_time_s,
                    "material": material,
                    "answer": {"source_guess": r.guess},
                }
            )
        blinded += _write(
            study,
            users[senior],
            SessionPhase.BLINDED_REVIEW,
            payload,
            case_ids,
            start + timedelta(days=50),
            seed + 100 + index,
        )

    qualitative = 0
    raters = (names["senior"] + names["mid_level"])[:2]
    scores = data.qualitative
    for rater_label, username in zip(sorted(scores["rater"].unique()), raters, strict=False):
        part = scores[scores["rater"] == rater_label]
        payload = [
            {
                "case": case,
                "severe": False,
                "confidence": 0,
                "seconds": 30.0,
                "material": materials.get(case),
                "answer": {
                    "scores": {
                        str(c): int(s) for c, s in zip(g["criterion"], g["score"], strict=True)
                    }
                },
            }
            for case, g in part.groupby("case", sort=True)
        ]
        qualitative += _write(
            study,
            users[username],
            SessionPhase.QUALITATIVE,
            payload,
            case_ids,
            start + timedelta(days=55),
            seed + 200,
        )
    _finish(study, coordinator_password)
    return DemoReads(total, blinded, qualitative)


def _finish(study: Study, coordinator_password: str | None = None) -> None:
    """Move the demo study to unblinded through the trials service, signed by its coordinator."""
    from trials.demo import DEMO_PASSWORD
    from trials.services import study_transition
    from trials.services.studies import SIGNED_TRANSITIONS
    from trials.signatures import SignatureMeaning, signature_make

    coordinator = (
        Membership.objects.filter(study=study, role=Role.COORDINATOR).select_related("user").first()
    )
    actor = coordinator.user if coordinator else None
    for target in (StudyStatus.OPEN, StudyStatus.LOCKED, StudyStatus.UNBLINDED):
        study.refresh_from_db()
        if study.status == StudyStatus.UNBLINDED:
            return
        if study.status == target:
            continue
        signature = None
        if target in SIGNED_TRANSITIONS:
            signature = signature_make(
                user=actor,
                password=coordinator_password or DEMO_PASSWORD,
                meaning=SignatureMeaning.APPROVAL,
            )
        study_transition(
            actor=actor,
            study=study,
            to=target,
            signature=signature,
            reason="Demo study: simulated reads complete."
            if target == StudyStatus.UNBLINDED
            else "",
        )
