"""Revising a submitted answer: closed once the aided session has started; works in every phase's page."""

from __future__ import annotations

import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from readers import services
from readers.models import Read, ReadingSession, SessionPhase
from readers.services import ReadAnswer
from tests.readers.factories import reading_study
from tests.readers.source_trial_setup import source_trial_study
from tests.readers.test_source_trial import opened, prepare_all, review_all
from trials.models import AuditAction, AuditEvent, StudyDesign

pytestmark = pytest.mark.django_db

ANSWER = ReadAnswer(severe=True, confidence=80, conditions=("hydrocephalus",))


def _unaided_read(setup, reader) -> Read:
    assignment = services.session_next_assignment(session=setup.session_of(reader))
    assert assignment is not None
    services.assignment_serve(reader=reader, assignment=assignment)
    return services.read_submit(
        reader=reader, assignment=assignment, answer=ANSWER, client_event_id=uuid.uuid4()
    )


def test_unaided_read_cannot_be_revised_once_the_aided_session_has_started():
    setup = reading_study(
        design=StudyDesign.ASSISTED_CROSSOVER, n_cases=1, allow_revisits=True, prefix="rev"
    )
    reader = setup.readers[0]
    read = _unaided_read(setup, reader)
    later = timezone.now() + timedelta(days=setup.study.washout_days, hours=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        # Washout over, aided session not started: the unaided answer may still change.
        services.read_revise(
            reader=reader,
            read=read,
            answer=ReadAnswer(severe=False, confidence=30),
            reason="second look",
        )
        aided = setup.session_of(reader, SessionPhase.AIDED)
        services.session_serve_next(reader=reader, session=aided)
        with pytest.raises(services.ReadingRefused, match="aided session"):
            services.read_revise(reader=reader, read=read, answer=ANSWER, reason="the AI showed me")
        client = Client()
        client.force_login(reader)
        token = read.assignment.token
        page = client.post(
            reverse("readers:revise", kwargs={"token": token}),
            {
                "severe": "yes",
                "confidence": "90",
                "reason": "the AI showed me",
                "client_event_id": str(uuid.uuid4()),
            },
        )
        assert page.status_code in (403, 409)
        assert "aided session" in page.content.decode()
        api = client.post(
            reverse("readers:api-revise", kwargs={"token": token}),
            {
                "severe": True,
                "confidence": 90,
                "reason": "the AI showed me",
                "client_event_id": str(uuid.uuid4()),
            },
            content_type="application/json",
        )
        assert api.status_code in (403, 409) and "aided session" in api.json()["detail"]
    read.refresh_from_db()
    assert (read.severe, read.confidence, read.revision) == (False, 30, 1)
    assert AuditEvent.objects.filter(action=AuditAction.READ_REVISED).count() == 1


def test_blinded_review_read_is_revised_through_the_page():
    setup = source_trial_study(prefix="revrev", n_cases=1, n_juniors=1, n_seniors=1)
    setup.study.allow_revisits = True
    setup.study.save()
    opened(setup)
    prepare_all(setup)
    senior = setup.seniors[0]
    [read] = review_all(setup, senior)
    guess = read.answer["source_guess"]
    client = Client()
    client.force_login(senior)
    token = read.assignment.token
    page = client.get(reverse("readers:case", kwargs={"token": token}))
    assert page.status_code == 200
    assert 'name="changes_initial"' in page.content.decode()
    response = client.post(
        reverse("readers:revise", kwargs={"token": token}),
        {
            "severe": "no",
            "confidence": "15",
            "changes_initial": "no",
            "reason": "looked again",
            "client_event_id": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    read.refresh_from_db()
    assert (read.severe, read.confidence, read.revision) == (False, 15, 1)
    # The locked source guess is kept, whatever a revision sends.
    assert read.answer["source_guess"] == guess and read.answer["changes_initial"] is False
    assert ReadingSession.objects.get(reader=senior).phase == SessionPhase.BLINDED_REVIEW
