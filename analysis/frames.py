"""The analysis data bundle: a study's reads as pandas DataFrames (pure, no Django).

Every report takes a :class:`StudyData` and nothing else, whether it came from the
database (:mod:`analysis.selectors`) or from the reader simulator
(:mod:`analysis.simulation`). Columns, in long format:

``reads``
    reader, tier (junior | mid_level | senior | ai), modality (unaided | aided | ai),
    case, truth (0/1, 1 = severe), rating (0–100, higher = more likely severe),
    decision (0/1), confidence (0–100), read_time_s, dataset, probe_type, ga_weeks,
    condition.
``cases``
    case, dataset, truth, condition, probe_type, ga_weeks; from the database also the
    metadata of Table 1 (:data:`CASE_METADATA_COLUMNS`, optional): ga_exact_weeks (weeks +
    days/7), birth_weight_g, sex (F | M | U), age_at_exam_days, apgar_1min, apgar_5min,
    manufacturer, site.
``blinded``
    senior, author (the junior whose material it was, or "AI"), case, truth,
    arm (ai | junior), guess (ai | junior | dont_know), initial_decision,
    secondary_decision, changed, read_time_s.
``qualitative``
    rater, case, criterion, score (1–5).

``rating`` is the score every ROC analysis uses (:attr:`StudyData.score_source` says
which): a reader's own probability-of-severe rating 0–100 where the study collects ratings
and every reader's read has one (``reader_rating``, optional column: the rating as given,
NaN where none and for the AI); otherwise his binary answer, ``100 × decision``. The AI's
is always its probability × 100. Simulated readers rate on the 0–100 scale from their
latent value (:mod:`analysis.simulation`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

READ_COLUMNS: tuple[str, ...] = (
    "reader",
    "tier",
    "modality",
    "case",
    "truth",
    "rating",
    "decision",
    "confidence",
    "read_time_s",
    "dataset",
    "probe_type",
    "ga_weeks",
    "condition",
)
CASE_COLUMNS: tuple[str, ...] = ("case", "dataset", "truth", "condition", "probe_type", "ga_weeks")
#: Case metadata that only Table 1 uses; optional (simulated studies have none of it).
CASE_METADATA_COLUMNS: tuple[str, ...] = (
    "ga_exact_weeks",
    "birth_weight_g",
    "sex",
    "age_at_exam_days",
    "apgar_1min",
    "apgar_5min",
    "manufacturer",
    "site",
)
BLINDED_COLUMNS: tuple[str, ...] = (
    "senior",
    "author",
    "case",
    "truth",
    "arm",
    "guess",
    "initial_decision",
    "secondary_decision",
    "changed",
    "read_time_s",
)
QUALITATIVE_COLUMNS: tuple[str, ...] = ("rater", "case", "criterion", "score")
#: Optional column of ``reads``: the probability-of-severe rating 0–100 the reader gave, NaN
#: where he gave none (the study did not collect it) and for the AI.
READER_RATING_COLUMN = "reader_rating"

#: Where the ``rating`` column of the readers' reads comes from (:attr:`StudyData.score_source`).
SCORE_RATINGS = "ratings"
#: The study collects no ratings: a reader's score is his binary answer (100 × decision).
SCORE_BINARY = "binary"
#: The study collects ratings but some readers' reads have none: every reader is scored by
#: his binary answer.
SCORE_BINARY_INCOMPLETE = "binary_incomplete"
SCORE_SOURCES: tuple[str, ...] = (SCORE_RATINGS, SCORE_BINARY, SCORE_BINARY_INCOMPLETE)

#: Reader groups of the paper's Table 2: (key, tier, modality).
GROUPS: tuple[tuple[str, str, str], ...] = (
    ("junior", "junior", "unaided"),
    ("mid_level", "mid_level", "unaided"),
    ("junior_ai", "junior", "aided"),
    ("ai", "ai", "ai"),
)
AI_READER = "AI"

#: Gold-standard condition categories of the errors table, in display order.
CONDITIONS: tuple[str, ...] = (
    "normal",
    "ivh_1",
    "ivh_2",
    "ivh_3",
    "ivh_4",
    "ependymal_cyst",
    "ventricular_dilation",
    "hydrocephalus",
    "pvl",
)
QUALITATIVE_CRITERIA: tuple[str, ...] = (
    "view_correctness",
    "detection_accuracy",
    "anatomical_recognition",
    "clinical_value",
)


def rating_from_answer(severe: bool, confidence: float) -> float:
    """The 0–100 severity rating of a yes/no answer given with a confidence 0–100."""
    half = float(confidence) / 2.0
    return 50.0 + half if severe else 50.0 - half


def score_source_of(reads: pd.DataFrame, *, collects_rating: bool) -> str:
    """Which score the readers' reads are analysed by (one of :data:`SCORE_SOURCES`).

    Ratings only when the study collects them and every reader's read (not the AI's) has
    one; a mix of rated and unrated reads would put two scales in one ROC analysis.
    """
    if not collects_rating:
        return SCORE_BINARY
    human = reads.loc[reads["tier"] != "ai"]
    if READER_RATING_COLUMN not in reads.columns:
        return SCORE_BINARY_INCOMPLETE if not human.empty else SCORE_RATINGS
    if human[READER_RATING_COLUMN].isna().any():
        return SCORE_BINARY_INCOMPLETE
    return SCORE_RATINGS


def with_reader_scores(reads: pd.DataFrame, source: str) -> pd.DataFrame:
    """``reads`` with the readers' ``rating`` set from ``source``: their ratings, or
    ``100 × decision`` (the AI's rating, its probability, stays)."""
    if source not in SCORE_SOURCES:
        raise ValueError(f"unknown score source {source!r}")
    reads = reads.copy()
    human = (reads["tier"] != "ai").to_numpy()
    if source == SCORE_RATINGS:
        if READER_RATING_COLUMN in reads.columns:
            reads.loc[human, "rating"] = reads.loc[human, READER_RATING_COLUMN].astype(float)
    else:
        reads.loc[human, "rating"] = 100.0 * reads.loc[human, "decision"].astype(float)
    reads["rating"] = reads["rating"].astype(float)
    return reads


def condition_label(conditions: Iterable[str], ivh_grade: int | None) -> str:
    """The one condition category a gold standard counts under (the most serious)."""
    found = {c.strip().lower() for c in conditions}
    for name in ("hydrocephalus", "pvl"):
        if name in found:
            return name
    if "ivh" in found and ivh_grade:
        return f"ivh_{int(ivh_grade)}"
    for name in ("ventricular_dilation", "ependymal_cyst"):
        if name in found:
            return name
    return "normal"


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


@dataclass(frozen=True, eq=False)
class StudyData:
    """A study's analysable data; ``snapshot`` hashes all of it (see :func:`snapshot_hash`)."""

    title: str
    reads: pd.DataFrame
    cases: pd.DataFrame
    blinded: pd.DataFrame = field(default_factory=lambda: _empty(BLINDED_COLUMNS))
    qualitative: pd.DataFrame = field(default_factory=lambda: _empty(QUALITATIVE_COLUMNS))
    #: What the readers' ``rating`` is (:data:`SCORE_SOURCES`); simulated and hand-built
    #: data give readers' ratings.
    score_source: str = SCORE_RATINGS

    @cached_property
    def snapshot(self) -> str:
        """SHA-256 of the data, the same for the same reads whatever their row order."""
        return snapshot_hash(self)


def _canonical(frame: pd.DataFrame, columns: tuple[str, ...]) -> bytes:
    present = [c for c in columns if c in frame.columns]
    ordered = frame.loc[:, present].copy()
    if not ordered.empty:
        ordered = ordered.astype(str).sort_values(present, kind="mergesort")
    return ordered.to_csv(index=False, lineterminator="\n").encode()


def snapshot_hash(data: StudyData) -> str:
    """SHA-256 over the canonical CSV of every frame of ``data`` (rows sorted)."""
    digest = hashlib.sha256()
    for name, frame, columns in (
        ("reads", data.reads, (*READ_COLUMNS, READER_RATING_COLUMN)),
        ("cases", data.cases, CASE_COLUMNS + CASE_METADATA_COLUMNS),
        ("blinded", data.blinded, BLINDED_COLUMNS),
        ("qualitative", data.qualitative, QUALITATIVE_COLUMNS),
    ):
        digest.update(name.encode() + b"\0")
        digest.update(_canonical(frame, columns))
    return digest.hexdigest()


def group_reads(reads: pd.DataFrame, group: str, dataset: str | None = None) -> pd.DataFrame:
    """The reads of one Table-2 group (``junior``, ``mid_level``, ``junior_ai``, ``ai``)."""
    for key, tier, modality in GROUPS:
        if key == group:
            rows = reads[(reads["tier"] == tier) & (reads["modality"] == modality)]
            if dataset is not None:
                rows = rows[rows["dataset"] == dataset]
            return rows
    raise ValueError(f"unknown reader group {group!r}")


def reader_case_matrices(
    rows: pd.DataFrame, columns: tuple[str, ...] = ("rating", "decision")
) -> tuple[dict[str, np.ndarray], np.ndarray, list[str], list[str]]:
    """Readers × cases matrices of ``columns`` and the cases' truth; only cases every reader read.

    Returns (matrices by column, truth, readers, cases), readers and cases sorted.
    """
    reader_codes, readers = pd.factorize(rows["reader"].astype(str), sort=True)
    case_codes, cases = pd.factorize(rows["case"].astype(str), sort=True)
    shape = (len(readers), len(cases))
    seen = np.zeros(shape, dtype=bool)
    seen[reader_codes, case_codes] = True
    keep = np.asarray(seen.all(axis=0))
    matrices = {}
    for column in columns:
        matrix = np.full(shape, np.nan)
        matrix[reader_codes, case_codes] = rows[column].to_numpy(dtype=float)
        matrices[column] = matrix[:, keep]
    truth = np.zeros(len(cases), dtype=int)
    truth[case_codes] = rows["truth"].to_numpy(dtype=int)
    return (
        matrices,
        truth[keep],
        [str(r) for r in readers],
        [str(c) for c, k in zip(cases, keep, strict=True) if k],
    )


def rating_matrix(
    rows: pd.DataFrame, column: str = "rating"
) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Readers × cases matrix of ``column`` with the cases' truth; only cases every reader read.

    Returns (matrix, truth, readers, cases), readers and cases sorted.
    """
    matrices, truth, readers, cases = reader_case_matrices(rows, (column,))
    return matrices[column], truth, readers, cases
