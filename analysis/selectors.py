"""Reads of the analysis app: a study's data as the DataFrames the reports take.

The frames follow :mod:`analysis.frames`. Case ids in them are case codes (unique in a
study), reader ids are usernames. Only included cases with a gold standard count.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from django.db.models import QuerySet

from analysis.exports import TOOL_USE_COLUMN
from analysis.frames import (
    AI_READER,
    BLINDED_COLUMNS,
    CASE_COLUMNS,
    CASE_METADATA_COLUMNS,
    QUALITATIVE_COLUMNS,
    READ_COLUMNS,
    READER_RATING_COLUMN,
    StudyData,
    condition_label,
    score_source_of,
    with_reader_scores,
)
from analysis.models import AnalysisJob, JobStatus
from inference.selectors import ai_predictions
from readers.models import Read, SessionPhase
from trials.models import Case, Membership, Role, Study

#: Keys of ``Read.answer`` in a blinded review (the source trial's phase rules store them).
SOURCE_GUESS_KEY = "source_guess"
#: Key of ``Read.answer`` holding a qualitative assessment: {criterion: score 1–5}.
QUALITATIVE_SCORES_KEY = "scores"
_ARM_OF_SOURCE = {"ai": "ai", "junior": "junior"}


def study_cases_frame(*, study: Study) -> pd.DataFrame:
    """Included cases with a gold standard: code, dataset, truth, condition, probe, GA, and
    the metadata of Table 1 (:data:`analysis.frames.CASE_METADATA_COLUMNS`)."""
    rows = []
    cases = (
        Case.objects.filter(study=study, excluded=False, gold_standard__isnull=False)
        .select_related("dataset", "dataset__site", "gold_standard")
        .order_by("dataset__name", "code")
    )
    for case in cases:
        gold = case.gold_standard
        rows.append(
            {
                "case": case.code,
                "dataset": case.dataset.name,
                "truth": int(gold.severe),
                "condition": condition_label(gold.conditions, gold.ivh_grade),
                "probe_type": case.probe_type or "unknown",
                "ga_weeks": case.ga_weeks if case.ga_weeks is not None else np.nan,
                "ga_exact_weeks": case.ga_weeks + (case.ga_days or 0) / 7.0
                if case.ga_weeks is not None
                else np.nan,
                "birth_weight_g": _number(case.birth_weight_g),
                "sex": case.sex or "U",
                "age_at_exam_days": _number(case.age_at_exam_days),
                "apgar_1min": _number(case.apgar_1min),
                "apgar_5min": _number(case.apgar_5min),
                "manufacturer": case.manufacturer or "unknown",
                "site": case.dataset.site.name if case.dataset.site is not None else "unknown",
            }
        )
    return pd.DataFrame(rows, columns=list(CASE_COLUMNS + CASE_METADATA_COLUMNS))


def _number(value: float | None) -> float:
    return float(value) if value is not None else np.nan


def _reads(study: Study, phase: str) -> QuerySet[Read]:
    return Read.objects.filter(
        assignment__session__study=study,
        assignment__session__phase=phase,
        assignment__case__excluded=False,
    )


def study_reads_frame(*, study: Study, cases: pd.DataFrame) -> pd.DataFrame:
    """Unaided and aided reads of the study and the AI's standalone reading, long format.

    A reader's ``rating`` is his probability-of-severe rating where the study collects
    ratings and every reader's read has one, else his binary answer (``100 × decision``;
    :func:`analysis.frames.score_source_of`). ``reader_rating``: the rating a reader gave,
    NaN where none.
    """
    rows = []
    # A reader's tier is the one of his membership in this study (he may have another elsewhere).
    tiers = dict(
        Membership.objects.filter(study=study, role=Role.READER).values_list(
            "user__username", "tier"
        )
    )
    for phase in (SessionPhase.UNAIDED, SessionPhase.AIDED):
        values = _reads(study, phase).values_list(
            "reader__username",
            "assignment__case__code",
            "severe",
            "confidence",
            "rating",
            "active_ms",
            "tool_use",
        )
        for reader, case, severe, confidence, rating, active_ms, tool_use in values:
            rows.append(
                {
                    "reader": reader,
                    "tier": tiers.get(reader) or "unknown",
                    "modality": str(phase),
                    "case": case,
                    "rating": np.nan,
                    "decision": int(severe),
                    "confidence": int(confidence),
                    "read_time_s": active_ms / 1000.0,
                    READER_RATING_COLUMN: float(rating) if rating is not None else np.nan,
                    TOOL_USE_COLUMN: json.dumps(tool_use, separators=(",", ":"))
                    if tool_use
                    else "",
                }
            )
    codes = dict(Case.objects.filter(study=study).values_list("pk", "code"))
    for prediction in ai_predictions(study=study):
        probability = prediction["probability"]
        if probability is None:
            continue
        rows.append(
            {
                "reader": AI_READER,
                "tier": "ai",
                "modality": "ai",
                "case": codes.get(prediction["case_id"]),
                "rating": 100.0 * float(probability),
                "decision": int(bool(prediction["severe"])),
                "confidence": round(100 * abs(2 * float(probability) - 1)),
                "read_time_s": _number(prediction.get("read_time_s")),
                READER_RATING_COLUMN: np.nan,
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "reader",
            "tier",
            "modality",
            "case",
            "rating",
            "decision",
            "confidence",
            "read_time_s",
            READER_RATING_COLUMN,
            TOOL_USE_COLUMN,
        ],
    )
    frame[TOOL_USE_COLUMN] = frame[TOOL_USE_COLUMN].fillna("")
    frame = frame.merge(cases, on="case", how="inner")
    # The workstation's tool counts ride along for exports; analyses and the snapshot use
    # READ_COLUMNS only.
    frame[READER_RATING_COLUMN] = frame[READER_RATING_COLUMN].astype(float)
    frame = with_reader_scores(frame, score_source_of(frame, collects_rating=study.collects_rating))
    return frame.loc[:, [*READ_COLUMNS, READER_RATING_COLUMN, TOOL_USE_COLUMN]]


def blinded_reviews_frame(*, study: Study, cases: pd.DataFrame) -> pd.DataFrame:
    """The blinded source trial: one row per senior review.

    Reads of ``blinded_review`` sessions whose material set is the AI's or a junior's;
    the guess is ``Read.answer["source_guess"]`` (ai | junior | dont_know), the initial
    diagnosis the material set's ``initial_severe``, the secondary one the read's.
    """
    truth = cases.set_index("case")["truth"]
    rows = []
    values = (
        _reads(study, SessionPhase.BLINDED_REVIEW)
        .filter(assignment__material_set__isnull=False)
        .values_list(
            "reader__username",
            "assignment__case__code",
            "assignment__material_set__source",
            "assignment__material_set__author_user__username",
            "assignment__material_set__initial_severe",
            "severe",
            "answer",
            "active_ms",
        )
    )
    for senior, case, source, author, initial, severe, answer, active_ms in values:
        arm = _ARM_OF_SOURCE.get(source)
        if arm is None or case not in truth.index:
            continue
        guess = str((answer or {}).get(SOURCE_GUESS_KEY, "dont_know"))
        initial_decision = int(bool(initial))
        rows.append(
            {
                "senior": senior,
                "author": AI_READER if arm == "ai" else (author or "junior"),
                "case": case,
                "truth": int(truth[case]),
                "arm": arm,
                "guess": guess if guess in ("ai", "junior") else "dont_know",
                "initial_decision": initial_decision,
                "secondary_decision": int(severe),
                "changed": int(int(severe) != initial_decision),
                "read_time_s": active_ms / 1000.0,
            }
        )
    return pd.DataFrame(rows, columns=list(BLINDED_COLUMNS))


def qualitative_frame(*, study: Study) -> pd.DataFrame:
    """Qualitative scores: ``Read.answer["scores"]`` of ``qualitative`` sessions, long format."""
    rows = []
    values = _reads(study, SessionPhase.QUALITATIVE).values_list(
        "reader__username", "assignment__case__code", "answer"
    )
    for rater, case, answer in values:
        for criterion, score in ((answer or {}).get(QUALITATIVE_SCORES_KEY) or {}).items():
            rows.append(
                {"rater": rater, "case": case, "criterion": str(criterion), "score": int(score)}
            )
    return pd.DataFrame(rows, columns=list(QUALITATIVE_COLUMNS))


def study_data(*, study: Study) -> StudyData:
    """Everything the reports need from a study, with its snapshot hash."""
    cases = study_cases_frame(study=study)
    reads = study_reads_frame(study=study, cases=cases)
    source = score_source_of(reads, collects_rating=study.collects_rating)
    return StudyData(
        title=study.title,
        reads=reads,
        score_source=source,
        cases=cases,
        blinded=blinded_reviews_frame(study=study, cases=cases),
        qualitative=qualitative_frame(study=study),
    )


def latest_job(*, study: Study, kind: str, snapshot: str) -> AnalysisJob | None:
    """The newest job of a report for a snapshot that is complete, queued or running."""
    return (
        AnalysisJob.objects.filter(study=study, kind=kind, snapshot=snapshot)
        .exclude(status=JobStatus.FAILED)
        .order_by("-created")
        .first()
    )


def study_jobs(*, study: Study) -> QuerySet[AnalysisJob]:
    """A study's analysis jobs, newest first."""
    return AnalysisJob.objects.filter(study=study).order_by("-created")
