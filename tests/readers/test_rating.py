"""The probability-of-severe rating: a draft study's setting (audited), then a rating 0–100
required on the case page and in the API where the study collects it, refused where it does
not; the same form whatever the material's source; exported with the reads."""

from __future__ import annotations

import csv
import io
import re
import uuid
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from analysis.exports import reads_csv
from analysis.selectors import study_data
from readers import services
from readers.models import Assignment, Read, ReadingSession, SessionPhase
from readers.services import ReadAnswer
from tests.readers.factories import reading_study
from tests.readers.source_trial_setup import source_trial_study
from tests.readers.test_source_trial import opened, prepare_all
from trials import services as trial_services
from trials.models import AuditAction, AuditEvent, Role, StudyStatus
from trials.services import study_transition

pytestmark = pytest.mark.django_db


def _served(prefix: str, **study: Any):
    setup = reading_study(n_cases=3, prefix=prefix, **study)
    reader = setup.readers[0]
    assignment = services.session_next_assignment(session=setup.session_of(reader))
    assert assignment is not None
    services.assignment_serve(reader=reader, assignment=assignment)
    return setup, reader, assignment


def _next(setup, reader) -> Assignment:
    assignment = services.session_next_assignment(session=setup.session_of(reader))
    assert assignment is not None
    return services.assignment_serve(reader=reader, assignment=assignment)


def _form(**fields: str) -> dict[str, str]:
    return {"severe": "yes", "confidence": "70", "client_event_id": str(uuid.uuid4())} | fields


def test_the_setting_changes_only_in_a_draft_and_is_audited(client):
    setup = reading_study(n_cases=1, prefix="rset", status=StudyStatus.DRAFT)
    study, coordinator = setup.study, setup.coordinator
    assert study.collects_rating is False
    api = APIClient()
    api.force_authenticate(coordinator)
    url = reverse("trials:study-update-settings", kwargs={"pk": study.pk})
    response = api.patch(url, {"collects_rating": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["collects_rating"] is True
    study.refresh_from_db()
    assert study.collects_rating is True
    row = AuditEvent.objects.filter(
        action=AuditAction.STUDY_UPDATED, target_id=str(study.pk)
    ).last()
    assert row.before == {"collects_rating": False} and row.after == {"collects_rating": True}
    # The coordinator's page: shown, and changed by its settings form.
    client.force_login(coordinator)
    page = client.get(reverse("trials:study", kwargs={"study_id": study.pk}))
    assert b'id="study-settings"' in page.content and b'name="collects_rating"' in page.content
    posted = client.post(
        reverse("trials:study-settings", kwargs={"study_id": study.pk}),
        {"washout_days": study.washout_days, "cine_fps": study.cine_fps},
    )
    assert posted.status_code == 302
    study.refresh_from_db()
    assert study.collects_rating is False
    assert (
        AuditEvent.objects.filter(action=AuditAction.STUDY_UPDATED, target_id=str(study.pk)).count()
        == 2
    )
    # Only a coordinator, only while a draft.
    reader_api = APIClient()
    reader_api.force_authenticate(setup.readers[0])
    assert reader_api.patch(url, {"collects_rating": True}, format="json").status_code in (403, 404)
    study_transition(actor=coordinator, study=study, to=StudyStatus.OPEN)
    assert api.patch(url, {"collects_rating": True}, format="json").status_code == 400
    study.refresh_from_db()
    assert study.collects_rating is False


def test_a_new_study_may_collect_ratings():
    setup = reading_study(n_cases=1, prefix="rnew")
    study = trial_services.study_create(
        actor=setup.coordinator, title="Rated", design="standalone", collects_rating=True
    )
    assert study.collects_rating is True
    created = AuditEvent.objects.get(action=AuditAction.STUDY_CREATED, target_id=str(study.pk))
    assert created.after["collects_rating"] is True
    assert study.memberships.filter(user=setup.coordinator, role=Role.COORDINATOR).exists()


def test_the_case_page_requires_and_validates_the_rating_where_the_study_collects_it(client):
    _setup, reader, assignment = _served("rpage", collects_rating=True)
    client.force_login(reader)
    url = reverse("readers:case", kwargs={"token": assignment.token})
    page = client.get(url).content.decode()
    # Both the yes/no answer and the rating are on the page.
    assert 'name="severe"' in page and re.search(r'<input[^>]*name="rating"[^>]*required', page)
    assert client.post(url, _form()).status_code == 400  # no rating
    for bad in ("101", "-1", "40.5", "x"):
        assert client.post(url, _form(rating=bad)).status_code == 400
    assert not Read.objects.filter(assignment=assignment).exists()
    # Consistency is not forced: "severe" with a probability of 40 is an answer.
    assert client.post(url, _form(rating="40")).status_code == 302
    read = Read.objects.get(assignment=assignment)
    assert (read.severe, read.rating, read.confidence) == (True, 40, 70)
    audit = AuditEvent.objects.get(action=AuditAction.READ_SUBMITTED, target_id=str(read.pk))
    assert audit.after["rating"] == 40


def test_the_case_page_has_no_rating_where_the_study_collects_none(client):
    _setup, reader, assignment = _served("rnone")
    client.force_login(reader)
    url = reverse("readers:case", kwargs={"token": assignment.token})
    assert b'name="rating"' not in client.get(url).content
    assert client.post(url, _form(rating="40")).status_code == 302  # a stray field is ignored
    assert Read.objects.get(assignment=assignment).rating is None


def test_the_api_requires_refuses_and_validates_the_rating():
    _setup, reader, assignment = _served("rapi", collects_rating=True)
    api = APIClient()
    api.force_authenticate(reader)
    case = api.get(reverse("readers:api-assignment", kwargs={"token": assignment.token})).json()
    assert case["collects_rating"] is True
    url = reverse("readers:api-read", kwargs={"token": assignment.token})
    body = {"severe": False, "confidence": 30}
    for bad in (
        {},
        {"rating": None},
        {"rating": 101},
        {"rating": -3},
        {"rating": "high"},
        {"rating": 12.5},
    ):
        response = api.post(
            url, {**body, **bad, "client_event_id": str(uuid.uuid4())}, format="json"
        )
        assert response.status_code == 400, (bad, response.content)
    assert not Read.objects.filter(assignment=assignment).exists()
    response = api.post(
        url, {**body, "rating": 0, "client_event_id": str(uuid.uuid4())}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["rating"] == 0 and Read.objects.get(assignment=assignment).rating == 0

    _other_setup, other_reader, other = _served("rapino")
    api.force_authenticate(other_reader)
    url = reverse("readers:api-read", kwargs={"token": other.token})
    refused = api.post(
        url, {**body, "rating": 50, "client_event_id": str(uuid.uuid4())}, format="json"
    )
    assert refused.status_code == 400 and "collects no" in refused.json()["detail"]
    done = api.post(url, {**body, "client_event_id": str(uuid.uuid4())}, format="json")
    assert done.status_code == 201 and done.json()["rating"] is None


def test_the_service_checks_the_rating_on_revisions_too():
    _setup, reader, assignment = _served("rrev", collects_rating=True, allow_revisits=True)
    read = services.read_submit(
        reader=reader,
        assignment=assignment,
        client_event_id=uuid.uuid4(),
        answer=ReadAnswer(severe=True, confidence=60, rating=70),
    )
    with pytest.raises(ValidationError):
        services.read_revise(
            reader=reader, read=read, reason="typo", answer=ReadAnswer(severe=True, confidence=60)
        )
    revised = services.read_revise(
        reader=reader,
        read=read,
        reason="typo",
        answer=ReadAnswer(severe=False, confidence=60, rating=30),
    )
    assert revised.rating == 30
    row = AuditEvent.objects.get(action=AuditAction.READ_REVISED, target_id=str(read.pk))
    assert row.before["rating"] == 70 and row.after["rating"] == 30


def test_the_reads_export_carries_the_rating():
    setup, reader, assignment = _served("rexp", collects_rating=True)
    services.read_submit(
        reader=reader,
        assignment=assignment,
        client_event_id=uuid.uuid4(),
        answer=ReadAnswer(severe=True, confidence=90, rating=35),
    )
    rows = list(csv.DictReader(io.StringIO(reads_csv(study_data(study=setup.study)).decode())))
    mine = [r for r in rows if r["reader"] == reader.username]
    assert float(mine[0]["reader_rating"]) == 35 and float(mine[0]["rating"]) == 35
    assert all(r["reader_rating"] == "" for r in rows if r["reader"] == "AI")


_VOLATILE = re.compile(
    r'(name="csrfmiddlewaretoken" value="|name="client_event_id" value="|action="/read/)[^"/]*'
)
_ANSWER_FORM = re.compile(r'<form method="post" id="answer-form".*?</form>', re.S)


def test_a_blinded_reviews_rating_form_is_the_same_for_ai_and_junior_material(client):
    setup = source_trial_study(prefix="rblind", n_cases=4, n_juniors=2, n_seniors=1)
    trial_services.study_update_settings(
        actor=setup.coordinator, study=setup.study, collects_rating=True
    )
    opened(setup, seed=8)
    prepare_all(setup)
    senior = setup.seniors[0]
    client.force_login(senior)
    session = ReadingSession.objects.get(reader=senior, phase=SessionPhase.BLINDED_REVIEW)
    forms, sources = set(), set()
    for assignment in session.assignments.select_related("material_set").order_by("position"):
        services.assignment_serve(reader=senior, assignment=assignment)
        url = reverse("readers:case", kwargs={"token": assignment.token})
        assert (
            client.post(
                reverse("readers:guess", kwargs={"token": assignment.token}),
                {"guess": "dont_know", "client_event_id": str(uuid.uuid4())},
            ).status_code
            == 302
        )
        page = client.get(url).content.decode()
        (form,) = _ANSWER_FORM.findall(page)
        assert 'name="rating"' in form
        forms.add(_VOLATILE.sub(r"\1", form))
        answered = client.post(url, _form(rating="55", changes_initial="no"))
        assert answered.status_code == 302, answered.content.decode()[-1500:]
        assignment.refresh_from_db()
        sources.add(assignment.material_set.source)
    assert sources == {"ai", "junior"}  # both arms were read
    assert len(forms) == 1  # one form, whatever the material's source
    assert set(
        Read.objects.filter(assignment__session=session).values_list("rating", flat=True)
    ) == {55}


def test_a_draft_keeps_the_rating(client):
    _setup, reader, assignment = _served("rdraft", collects_rating=True)
    client.force_login(reader)
    saved = client.put(
        reverse("readers:api-draft", kwargs={"token": assignment.token}),
        {"severe": True, "rating": 33},
        content_type="application/json",
    )
    assert saved.status_code == 204
    page = client.get(reverse("readers:case", kwargs={"token": assignment.token})).content.decode()
    assert re.search(
        r'<input[^>]*name="rating"[^>]*value="33"|<input[^>]*value="33"[^>]*name="rating"', page
    )
