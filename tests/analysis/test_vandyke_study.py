"""The Van Dyke data loaded as a study gives back its published OR result through the platform.

Van Dyke et al. 1993 (5 readers, 114 cases, 2 modalities; MRMCaov's ``VanDyke``).
Published OR RRRC, jackknife covariances, Hillis df: F = 4.456, df = (1, 15.26),
p = 0.0517 (Hillis, Stat Med 2007; OR-DBM MRMC 2.51 output reproduced in RJafroc's
tests, goodValues361/Iowa/VanDyke.txt; MRMCaov user guide). The study collects
probability-of-severe ratings; the ordinal ratings 1–5 are stored as ratings 0, 25, … 100
(with a yes/no answer beside them), a monotone map, so every empirical AUC and hence the
OR result is unchanged.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from analysis.exports import read_imrmc, read_long_csv
from analysis.stats import mrmc_or
from readers.models import Assignment, Read, ReadingSession, SessionPhase
from tests.analysis.helpers import vandyke_frame
from tests.trials.factories import (
    CaseFactory,
    DatasetFactory,
    GoldStandardFactory,
    MembershipFactory,
    StudyFactory,
    UserFactory,
)
from trials.models import Membership, Role, StudyDesign, StudyStatus

pytestmark = pytest.mark.django_db

ANSWER_OF_RATING = {1: (False, 100), 2: (False, 50), 3: (False, 0), 4: (True, 50), 5: (True, 100)}
PHASE_OF_TREATMENT = {1: SessionPhase.UNAIDED, 2: SessionPhase.AIDED}


@pytest.fixture
def vandyke_study():
    frame = vandyke_frame()
    study = StudyFactory(
        design=StudyDesign.ASSISTED_CROSSOVER,
        status=StudyStatus.LOCKED,
        title="Van Dyke",
        collects_rating=True,
    )
    statistician = UserFactory(username="vd-statistician")
    MembershipFactory(study=study, user=statistician, role=Role.STATISTICIAN)
    dataset = DatasetFactory(study=study, name="Van Dyke")
    cases = {}
    for case_id, truth in frame.drop_duplicates("case")[["case", "truth"]].itertuples(index=False):
        case = CaseFactory(dataset=dataset, study=study, code=f"VD{case_id:03d}")
        GoldStandardFactory(case=case, conditions=["pvl"] if truth else ["normal"])
        cases[case_id] = case
    now = timezone.now() - timedelta(days=1)
    assignments, reads = [], []
    for (reader_id, treatment), rows in frame.groupby(["reader", "modality"]):
        user = UserFactory(username=f"vd-reader{reader_id}")
        if not Membership.objects.filter(study=study, user=user).exists():
            MembershipFactory(study=study, user=user, role=Role.READER, tier="junior")
        session = ReadingSession.objects.create(
            study=study,
            reader=user,
            phase=PHASE_OF_TREATMENT[treatment],
            order_seed=0,
            case_order=[],
        )
        for position, (case_id, rating) in enumerate(
            rows[["case", "rating"]].itertuples(index=False), start=1
        ):
            assignment = Assignment(
                session=session,
                position=position,
                case=cases[case_id],
                served_at=now,
                answered_at=now,
            )
            assignments.append(assignment)
            severe, confidence = ANSWER_OF_RATING[int(rating)]
            reads.append(
                Read(
                    assignment=assignment,
                    reader=user,
                    client_event_id=uuid.uuid4(),
                    severe=severe,
                    confidence=confidence,
                    rating=25 * (int(rating) - 1),
                    served_at=now,
                    answered_at=now,
                    wall_ms=1000,
                    active_ms=1000,
                )
            )
    Assignment.objects.bulk_create(assignments)
    Read.objects.bulk_create(reads)
    client = Client()
    client.force_login(statistician)
    return study, client


def _check(result) -> None:
    assert result.statistic == pytest.approx(4.456, abs=5e-4)
    assert result.df_den == pytest.approx(15.26, abs=5e-3)
    assert result.pvalue == pytest.approx(0.0517, abs=5e-5)


def test_vandyke_study_exports_give_back_published_or(vandyke_study) -> None:
    study, client = vandyke_study
    imrmc = client.get(reverse("analysis:export-imrmc", args=[study.pk, "junior_unaided_vs_aided"]))
    assert imrmc.status_code == 200
    _check(mrmc_or(read_imrmc(imrmc.content.decode())))
    bundle = zipfile.ZipFile(
        io.BytesIO(client.get(reverse("analysis:export-reads", args=[study.pk, "imrmc"])).content)
    )
    assert bundle.read("junior_unaided_vs_aided.imrmc") == imrmc.content
    long = client.get(reverse("analysis:export-reads", args=[study.pk, "long"]))
    _check(mrmc_or(read_long_csv(long.content)))


def test_vandyke_study_mrmc_report_gives_published_or(
    vandyke_study, django_capture_on_commit_callbacks
) -> None:
    study, client = vandyke_study
    url = reverse("analysis:api-report", args=[study.pk, "mrmc"])
    with django_capture_on_commit_callbacks(execute=True):
        first = client.get(url)
    assert first.status_code == 202
    body = client.get(url).json()
    table = next(t for t in body["tables"] if t["name"] == "or")
    row = dict(zip(table["columns"], table["rows"][0], strict=True))
    assert row["endpoint"] == "auc" and row["readers"] == 5 and row["cases"] == 114
    assert row["F"] == pytest.approx(4.456, abs=5e-4)
    assert row["df_den"] == pytest.approx(15.26, abs=5e-3)
    assert row["pvalue"] == pytest.approx(0.0517, abs=5e-5)
