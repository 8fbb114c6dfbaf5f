"""#18 counterbalanced crossover (split-plot), end to end through pages and API.

A coordinator creates the study on its form (2 blocks), enrols 8 readers and 24 cases,
makes the allocation through the API (page too), opens the study (the commitment is
shown), creates the sessions; each reader's worklist holds two sessions of his block's
12 cases, the one of his sequence open, the other closed until a washout after the first.
After the reads, lock and unblind: the allocation verifies against its commitment. The
statistician's MRMC report (API and page) names the split-plot design and equals the
split-plot OR of the exported long file and of the iMRMC file. Runs on SQLite and, with
DATABASE_URL=postgres://…, on PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import timedelta

import numpy as np
import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from analysis.exports import read_imrmc, read_long_csv
from analysis.stats.splitplot import mrmc_or_split_plot, split_plot_layout
from readers.models import Assignment, Read, ReadingSession, SessionPhase
from readers.notifications import washout_notice_send
from readers.services import session_availability
from tests.trials.factories import (
    PASSWORD,
    CaseFactory,
    DatasetFactory,
    GoldStandardFactory,
    MembershipFactory,
    UserFactory,
    grant_study_creation,
)
from trials.models import (
    AuditEvent,
    CrossoverCaseAllocation,
    CrossoverReaderAllocation,
    CrossoverSequence,
    Role,
    Study,
    StudyDesign,
)

pytestmark = pytest.mark.django_db

SIGN = {"password": PASSWORD, "meaning": "approval"}
N_READERS, N_CASES = 8, 24


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _reads(study: Study, rng: np.random.Generator) -> None:
    """Every session's reads (ratings with some skill, a little better with the AI)."""
    done = timezone.now() - timedelta(days=40)
    reads = []
    for session in ReadingSession.objects.filter(study=study).select_related("reader"):
        assignments = list(session.assignments.select_related("case__gold_standard"))
        for assignment in assignments:
            severe = assignment.case.gold_standard.severe
            shift = 12 if session.phase == SessionPhase.AIDED else 0
            rating = int(np.clip(rng.normal(35 + (30 + shift) * severe, 20), 0, 100))
            reads.append(
                Read(
                    assignment=assignment,
                    reader=session.reader,
                    client_event_id=uuid.uuid4(),
                    severe=rating >= 50,
                    confidence=70,
                    rating=rating,
                    served_at=done,
                    answered_at=done,
                    wall_ms=1000,
                    active_ms=1000,
                )
            )
        Assignment.objects.filter(session=session).update(served_at=done, answered_at=done)
    Read.objects.bulk_create(reads)
    ReadingSession.objects.filter(study=study).update(started_at=done, completed_at=done)


def test_counterbalanced_crossover_end_to_end(django_capture_on_commit_callbacks):
    coordinator_user = grant_study_creation(UserFactory(username="cb-coordinator"))
    coordinator = Client()
    coordinator.force_login(coordinator_user)
    form = {
        "title": "Counterbalanced",
        "design": StudyDesign.COUNTERBALANCED_CROSSOVER,
        "washout_days": 14,
        "cine_fps": 25,
        "collects_rating": "on",
        "crossover_blocks": 1,
    }
    # The form refuses fewer than two blocks; two are taken.
    coordinator.post(reverse("trials:study-create"), form)
    assert not Study.objects.filter(title="Counterbalanced").exists()
    coordinator.post(reverse("trials:study-create"), {**form, "crossover_blocks": 2})
    study = Study.objects.get(title="Counterbalanced")
    assert study.design == StudyDesign.COUNTERBALANCED_CROSSOVER and study.crossover_blocks == 2
    page = coordinator.get(reverse("trials:study", args=[study.pk])).content.decode()
    assert 'name="crossover_blocks"' in page  # the draft's settings form edits it
    assert '<span id="study-crossover-blocks">2</span>' in page

    dataset = DatasetFactory(study=study, name="internal")
    for index in range(N_CASES):
        case = CaseFactory(dataset=dataset, study=study, code=f"CB{index:02d}")
        GoldStandardFactory(case=case, conditions=["pvl"] if index % 2 else ["normal"])
    readers = [UserFactory(username=f"cb-reader{i}") for i in range(N_READERS)]
    for user in readers:
        MembershipFactory(study=study, user=user, role=Role.READER, tier="junior")
    statistician = UserFactory(username="cb-statistician")
    MembershipFactory(study=study, user=statistician, role=Role.STATISTICIAN)

    # No sessions before the allocation: each reader's cases and order come from it.
    sessions_api = reverse("readers:api-study-sessions", args=[study.pk])
    early = coordinator.post(sessions_api, {}, content_type="application/json")
    assert early.status_code == 400 and "allocation" in early.json()["detail"]
    # Allocation: through the API (a chosen seed is refused), once; the page shows blocks.
    api = reverse("readers:api-crossover", args=[study.pk])
    chosen = coordinator.post(api, {"seed": 1}, content_type="application/json")
    assert chosen.status_code == 400
    made = coordinator.post(api, {}, content_type="application/json")
    assert made.status_code == 201, made.content
    state = made.json()
    assert state["block_readers"] == [4, 4] and state["block_cases"] == [12, 12]
    assert state["commitment"] is None and state["disclosure"] is None
    assert coordinator.post(api, {}, content_type="application/json").status_code == 400
    page = coordinator.get(reverse("readers:crossover", args=[study.pk])).content.decode()
    assert 'id="allocation-made"' in page and 'id="allocation-document"' not in page
    allocated = CrossoverReaderAllocation.objects.filter(allocation_list__study=study)
    for block in (0, 1):
        sequences = Counter(allocated.filter(block=block).values_list("sequence", flat=True))
        assert sequences == {CrossoverSequence.AI_FIRST: 2, CrossoverSequence.UNAIDED_FIRST: 2}
    cases = CrossoverCaseAllocation.objects.filter(allocation_list__study=study)
    for block in (0, 1):  # stratified: 6 severe and 6 non-severe cases per block
        assert Counter(cases.filter(block=block).values_list("stratum", flat=True)) == {
            "severe": 6,
            "non-severe": 6,
        }
    # Nobody else reaches the allocation.
    for user in (statistician, readers[0]):
        other = Client()
        other.force_login(user)
        assert other.get(api).status_code in (403, 404)

    # Open: the commitment is shown and audited.
    transition = reverse("trials:study-transition", args=[study.pk])
    assert coordinator.post(transition, {"to": "open", "confirm": "on"}).status_code in (200, 302)
    study.refresh_from_db()
    assert study.status == "open" and len(study.allocation_commitment) == 64
    assert coordinator.get(api).json()["commitment"] == study.allocation_commitment
    assert AuditEvent.objects.filter(
        action="allocation.committed", after__commitment=study.allocation_commitment
    ).exists()

    # Sessions through the coordinator's API: two per reader, his block's cases only.
    created = coordinator.post(sessions_api, {}, content_type="application/json")
    assert created.status_code in (200, 201), created.content
    block_of_case = dict(cases.values_list("case_id", "block"))
    for user in readers:
        allocation = allocated.get(reader=user)
        mine = ReadingSession.objects.filter(study=study, reader=user)
        assert sorted(mine.values_list("phase", flat=True)) == ["aided", "unaided"]
        orders = []
        for session in mine:
            case_ids = list(session.assignments.values_list("case_id", flat=True))
            assert len(case_ids) == 12
            assert {block_of_case[c] for c in case_ids} == {allocation.block}
            orders.append(session.case_order)
        assert orders[0] != orders[1]  # each session in its own random order
        first = (
            SessionPhase.AIDED
            if allocation.sequence == CrossoverSequence.AI_FIRST
            else SessionPhase.UNAIDED
        )
        reader = Client()
        reader.force_login(user)
        worklist = {row["phase"]: row for row in reader.get(reverse("readers:api-sessions")).json()}
        assert worklist[first]["is_open"] is True
        second = next(p for p in worklist if p != first)
        assert worklist[second]["is_open"] is False and worklist[second]["closed_reason"]
        assert reader.get(reverse("readers:worklist")).status_code == 200
        # The second session opens a washout after the first is completed.
        first_session = mine.get(phase=first)
        first_session.completed_at = timezone.now() - timedelta(days=13)
        first_session.save(update_fields=["completed_at"])
        assert session_availability(session=mine.get(phase=second)).reason
        first_session.completed_at = timezone.now() - timedelta(days=15)
        first_session.save(update_fields=["completed_at"])
        assert not session_availability(session=mine.get(phase=second)).reason

    # The washout e-mail names the second session for what it is: aided for unaided-first
    # readers, unaided for AI-first ones (sent once, when the washout is over).
    for user in readers:
        user.email = f"{user.username}@example.org"
        user.save(update_fields=["email"])
        allocation = allocated.get(reader=user)
        second_phase = (
            SessionPhase.UNAIDED
            if allocation.sequence == CrossoverSequence.AI_FIRST
            else SessionPhase.AIDED
        )
        second_session = ReadingSession.objects.get(study=study, reader=user, phase=second_phase)
        assert washout_notice_send(session=second_session) is True
        assert washout_notice_send(session=second_session) is False
    subjects = {message.to[0]: message.subject for message in mail.outbox}
    for user in readers:
        expected = (
            "Your unaided session"
            if allocated.get(reader=user).sequence == CrossoverSequence.AI_FIRST
            else "Your aided session"
        )
        assert subjects[user.email].startswith(expected), subjects[user.email]

    _reads(study, np.random.default_rng(18))
    coordinator.post(transition, {"to": "locked", "confirm": "on", **SIGN})
    study.refresh_from_db()
    assert study.status == "locked"
    unblind = {"to": "unblinded", "confirm": "on", "reason": "primary analysis", **SIGN}
    coordinator.post(transition, unblind)
    study.refresh_from_db()
    assert study.status == "unblinded"
    disclosure = coordinator.get(api).json()["disclosure"]
    assert disclosure["verified"] is True
    document = json.loads(disclosure["document"])
    assert {e["reader"]: e["sequence"] for e in document["readers"]} == {
        str(a.reader_id): a.sequence for a in allocated
    }
    page = coordinator.get(reverse("readers:crossover", args=[study.pk])).content.decode()
    assert 'id="verification"' in page and "✓" in page

    # The statistician: the MRMC report names the design; exports agree with it.
    stats = Client()
    stats.force_login(statistician)
    url = reverse("analysis:api-report", args=[study.pk, "mrmc"])
    with django_capture_on_commit_callbacks(execute=True):
        assert stats.get(url).status_code == 202
    body = stats.get(url).json()
    table = next(t for t in body["tables"] if t["name"] == "or")
    rows = [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]
    auc = next(r for r in rows if r["endpoint"] == "auc")
    assert auc["design"] == "split-plot-c" and "split-plot-c" in auc["method"]
    assert auc["readers"] == 8 and auc["cases"] == 24
    assert not any(r["endpoint"] == "auc (DBM)" for r in rows)
    assert any("split-plot-c: readers nested in 2 case blocks" in n for n in body["notes"])
    long = read_long_csv(
        stats.get(reverse("analysis:export-reads", args=[study.pk, "long"])).content
    )
    long = long[long["modality"].isin(["unaided", "aided"])]
    oracle = mrmc_or_split_plot(long)
    assert auc["F"] == pytest.approx(oracle.statistic)
    assert auc["df_den"] == pytest.approx(oracle.df_den)
    assert auc["pvalue"] == pytest.approx(oracle.pvalue)
    imrmc = stats.get(reverse("analysis:export-imrmc", args=[study.pk, "junior_unaided_vs_aided"]))
    assert imrmc.status_code == 200
    text = imrmc.content.decode()
    assert "Design: split-plot-c" in text
    from_imrmc = read_imrmc(text)
    assert split_plot_layout(from_imrmc).blocks == 2
    assert mrmc_or_split_plot(from_imrmc).statistic == pytest.approx(oracle.statistic)
    html = stats.get(reverse("analysis:report", args=[study.pk, "mrmc"]))
    assert html.status_code == 200 and "split-plot-c" in html.content.decode()
