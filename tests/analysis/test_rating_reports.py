"""ROC and MRMC on the readers' probability-of-severe ratings where the study collects them,
on their binary answers otherwise (and when some reads lack a rating), saying which; the
exports carry the rating; simulated readers rate from their latent values."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone
from sklearn.metrics import roc_auc_score

from analysis.exports import imrmc_comparisons, to_imrmc
from analysis.frames import SCORE_BINARY, SCORE_BINARY_INCOMPLETE, SCORE_RATINGS
from analysis.reports.mrmc import mrmc_report
from analysis.reports.roc import roc_report
from analysis.reports.scores import SCORE_TEXTS
from analysis.selectors import study_data
from analysis.simulation import SimulationConfig, latent_rating, simulate_study
from readers.models import Assignment, Read, ReadingSession, SessionPhase
from tests.trials.factories import (
    CaseFactory,
    DatasetFactory,
    GoldStandardFactory,
    MembershipFactory,
    StudyFactory,
    UserFactory,
)
from trials.models import Role, StudyDesign, StudyStatus

pytestmark = pytest.mark.django_db

N_CASES = 24
READERS = ("rr-j1", "rr-j2", "rr-j3")


def _study(*, collects_rating: bool, unrated: int = 0, seed: int = 5):
    """Three juniors read 24 cases alone and with AI; ratings drawn so that they carry more
    than the yes/no answer (their AUC differs from the binary one)."""
    rng = np.random.default_rng(seed)
    study = StudyFactory(
        design=StudyDesign.ASSISTED_CROSSOVER,
        status=StudyStatus.LOCKED,
        title="Rated",
        collects_rating=collects_rating,
    )
    dataset = DatasetFactory(study=study, name="Rated internal")
    truth = np.array([i % 3 == 0 for i in range(N_CASES)])
    cases = []
    for i, severe in enumerate(truth):
        case = CaseFactory(dataset=dataset, study=study, code=f"RR{i:03d}")
        GoldStandardFactory(case=case, conditions=["pvl"] if severe else ["normal"])
        cases.append(case)
    now = timezone.now() - timedelta(days=1)
    assignments: list[Any] = []
    reads: list[Any] = []
    expected: list[Any] = []
    for name in READERS:
        user = UserFactory(username=name)
        MembershipFactory(study=study, user=user, role=Role.READER, tier="junior")
        for phase, shift in ((SessionPhase.UNAIDED, 0.0), (SessionPhase.AIDED, 0.8)):
            session = ReadingSession.objects.create(
                study=study, reader=user, phase=phase, order_seed=0, case_order=[]
            )
            latent = truth * (1.2 + shift) + rng.normal(0, 1, N_CASES)
            ratings = np.clip(np.round(50 + 20 * (latent - 0.6)), 0, 100).astype(int)
            for position, (case, rating) in enumerate(zip(cases, ratings, strict=True), start=1):
                assignment = Assignment(
                    session=session, position=position, case=case, served_at=now, answered_at=now
                )
                assignments.append(assignment)
                severe = bool(latent[position - 1] > 0.6)
                given = (
                    None
                    if (collects_rating and len(reads) < unrated) or not collects_rating
                    else int(rating)
                )
                reads.append(
                    Read(
                        assignment=assignment,
                        reader=user,
                        client_event_id=uuid.uuid4(),
                        severe=severe,
                        confidence=60,
                        rating=given,
                        served_at=now,
                        answered_at=now,
                        wall_ms=1000,
                        active_ms=1000,
                    )
                )
                expected.append(
                    {
                        "reader": name,
                        "modality": str(phase),
                        "case": case.code,
                        "truth": int(truth[position - 1]),
                        "rating": int(rating),
                        "decision": int(severe),
                    }
                )
    Assignment.objects.bulk_create(assignments)
    Read.objects.bulk_create(reads)
    return study, pd.DataFrame(expected)


def _reader_aucs(expected: pd.DataFrame, column: str) -> dict[tuple[str, str], float]:
    return {
        (reader, modality): roc_auc_score(rows["truth"], rows[column])
        for (reader, modality), rows in expected.groupby(["reader", "modality"])
    }


def _roc_table(report) -> dict[tuple[str, str], float]:
    frame = report.table("reader_auc").frame
    modality = {"junior": "unaided", "junior_ai": "aided"}
    return {(r.reader, modality[r.group]): r.auc for r in frame.itertuples(index=False)}


def _reader_curves(report) -> list[str]:
    return [
        t.text for t in report.figures[0].figure.data if t.mode == "lines" and t.line.width == 1
    ]


def _mrmc_table(report) -> dict[tuple[str, str], float]:
    frame = report.table("reader_auc").frame
    return {(r["reader"], m): r[m] for r in frame.to_dict("records") for m in ("unaided", "aided")}


def test_reports_use_the_ratings_where_the_study_collects_them():
    study, expected = _study(collects_rating=True)
    data = study_data(study=study)
    assert data.score_source == SCORE_RATINGS
    wanted = _reader_aucs(expected, "rating")
    assert wanted != pytest.approx(_reader_aucs(expected, "decision"))  # the ratings carry more
    roc = roc_report(data)
    assert _roc_table(roc) == pytest.approx(wanted, abs=1e-12)
    assert (
        "reader ratings 0–100" in roc.methods
        and roc.table("reader_auc").methods == SCORE_TEXTS[SCORE_RATINGS]
    )
    assert not any("binary answers" in note for note in roc.notes)
    assert len(_reader_curves(roc)) == len(READERS) * 2  # each reader's ROC curve is drawn
    mrmc = mrmc_report(data)
    assert _mrmc_table(mrmc) == pytest.approx(wanted, abs=1e-12)
    assert "reader ratings 0–100" in mrmc.methods
    assert not any("binary answers" in note for note in mrmc.notes)
    # The exports: the reads carry the rating, iMRMC scores are the ratings.
    rated = data.reads[data.reads["tier"] == "junior"]
    assert (rated["reader_rating"] == rated["rating"]).all()
    comparisons, _left_out = imrmc_comparisons(data)
    (junior,) = [c for c in comparisons if c.name == "junior_unaided_vs_aided"]
    merged = junior.frame.merge(
        expected, on=["reader", "modality", "case"], suffixes=("", "_given")
    )
    assert len(merged) == len(expected) and (merged["rating"] == merged["rating_given"]).all()
    text = to_imrmc(
        junior.frame, title=data.title, snapshot=data.snapshot, description=junior.description
    )
    assert "Scores: reader ratings 0-100" in text.split("BEGIN DATA:")[0]


def test_reports_fall_back_to_the_binary_answers_where_the_study_collects_no_ratings():
    study, expected = _study(collects_rating=False)
    data = study_data(study=study)
    assert data.score_source == SCORE_BINARY
    assert data.reads.loc[data.reads["tier"] == "junior", "reader_rating"].isna().all()
    wanted = _reader_aucs(expected, "decision")
    roc = roc_report(data)
    assert _roc_table(roc) == pytest.approx(wanted, abs=1e-12)
    assert "binary answers; the study collects no ratings" in roc.methods
    assert SCORE_TEXTS[SCORE_BINARY] in roc.notes
    assert _reader_curves(roc) == []  # one operating point each: no curves
    mrmc = mrmc_report(data)
    assert _mrmc_table(mrmc) == pytest.approx(wanted, abs=1e-12)
    assert "binary answers; the study collects no ratings" in mrmc.methods
    assert SCORE_TEXTS[SCORE_BINARY] in mrmc.notes
    comparisons, _left_out = imrmc_comparisons(data)
    (junior,) = [c for c in comparisons if c.name == "junior_unaided_vs_aided"]
    assert set(junior.frame["rating"]) <= {0.0, 100.0}
    assert any(line.startswith("Scores: binary answers") for line in junior.description)


def test_reports_fall_back_to_the_binary_answers_when_some_reads_lack_a_rating():
    study, expected = _study(collects_rating=True, unrated=5)
    data = study_data(study=study)
    assert data.score_source == SCORE_BINARY_INCOMPLETE
    assert data.reads["reader_rating"].isna().sum() == 5
    wanted = _reader_aucs(expected, "decision")
    roc, mrmc = roc_report(data), mrmc_report(data)
    assert _roc_table(roc) == pytest.approx(wanted, abs=1e-12)
    assert _mrmc_table(mrmc) == pytest.approx(wanted, abs=1e-12)
    for report in (roc, mrmc):
        assert "some reads have no rating" in report.methods
        assert SCORE_TEXTS[SCORE_BINARY_INCOMPLETE] in report.notes


def test_simulated_readers_rate_from_their_latent_values():
    config = SimulationConfig(
        datasets=(("internal", 80),), blind_sweep_cases=4, n_junior=3, n_mid=2, n_senior=1, seed=3
    )
    plain = simulate_study(config)
    rated = simulate_study(SimulationConfig(**{**config.__dict__, "ratings": True}))
    assert "reader_rating" not in plain.reads.columns
    human = rated.reads[rated.reads["tier"] != "ai"]
    ratings = human["reader_rating"].to_numpy()
    assert (
        np.array_equal(ratings, np.round(ratings)) and ratings.min() >= 0 and ratings.max() <= 100
    )
    assert (human["rating"] == human["reader_rating"]).all()
    assert rated.reads.loc[rated.reads["tier"] == "ai", "reader_rating"].isna().all()
    # Nothing else changes: the same draws, the same calls.
    same = ["reader", "modality", "case", "decision", "confidence", "read_time_s"]
    pd.testing.assert_frame_equal(plain.reads[same], rated.reads[same])
    # A monotone map of the latent distance from the threshold, agreeing with the call.
    distance = np.linspace(-4, 4, 401)
    mapped = latent_rating(distance)
    assert np.all(np.diff(mapped) >= 0) and mapped[0] == 0 and mapped[-1] == 100
    assert (human.loc[human["decision"] == 1, "reader_rating"] >= 50).all()
    assert (human.loc[human["decision"] == 0, "reader_rating"] <= 50).all()
    # The confidence-based ordering of the same latent values: one ranking, up to rounding.
    for _reader, rows in human.groupby("reader"):
        assert (
            abs(
                roc_auc_score(rows["truth"], rows["reader_rating"])
                - roc_auc_score(rows["truth"], plain.reads.loc[rows.index, "rating"])
            )
            < 0.01
        )


def test_the_demo_fills_ratings_where_the_study_collects_them() -> None:
    from analysis.demo import fill_demo_reads
    from tests.analysis.helpers import make_study
    from tests.trials.factories import PASSWORD

    study, _users = make_study(cases_per_dataset=12, sweeps=4, prefix="DR")
    study.collects_rating = True
    study.save(update_fields=["collects_rating"])
    assert not fill_demo_reads(study, coordinator_password=PASSWORD).skipped
    data = study_data(study=study)
    assert data.score_source == SCORE_RATINGS
    human = data.reads[data.reads["tier"] != "ai"]
    assert (
        human["reader_rating"].notna().all() and (human["rating"] == human["reader_rating"]).all()
    )
    reviews = Read.objects.filter(
        assignment__session__study=study, assignment__session__phase=SessionPhase.BLINDED_REVIEW
    )
    assert reviews.exists() and all(r.rating == (90 if r.severe else 10) for r in reviews)
    assert not Read.objects.filter(
        assignment__session__study=study,
        rating__isnull=False,
        assignment__session__phase=SessionPhase.QUALITATIVE,
    ).exists()
    assert "reader ratings 0–100" in mrmc_report(data).methods
