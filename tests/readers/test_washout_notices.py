"""The washout e-mail: once per reader and study, when the aided session opens, in his language.

Scheduled (``apply_async(eta=...)``) when the unaided session completes, backed by a daily
sweep; an early run (eager Celery runs it at once) sends nothing; a second run or sweep sends
nothing again; the worklist notes it.
"""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from readers.models import SessionPhase, WashoutNotice
from readers.notifications import washout_notices_due, washout_notices_sweep
from readers.tasks import notify_washout_ended
from tests.readers.factories import reading_study
from tests.readers.test_services import Clock, read_all
from trials.models import StudyDesign

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    fake = Clock()
    with mock.patch("django.utils.timezone.now", fake):
        yield fake


def test_washout_email_once_per_reader_in_his_language(clock, django_capture_on_commit_callbacks):
    from preferences.services import store_language

    setup = reading_study(
        design=StudyDesign.ASSISTED_CROSSOVER, n_cases=2, n_readers=2, washout_days=28, prefix="wo"
    )
    english, chinese = setup.readers
    english.email, chinese.email = "en@example.org", "zh@example.org"
    english.save(update_fields=["email"])
    chinese.save(update_fields=["email"])
    store_language(chinese, "zh-hans")
    with mock.patch.object(notify_washout_ended, "apply_async") as scheduled:
        for reader in setup.readers:
            with django_capture_on_commit_callbacks(execute=True):
                read_all(reader, setup.session_of(reader), clock)
    # One task per reader, due when the washout ends.
    assert scheduled.call_count == 2
    for call in scheduled.call_args_list:
        session = setup.study.reading_sessions.get(pk=call.kwargs["kwargs"]["session_id"])
        assert session.phase == SessionPhase.AIDED
        assert call.kwargs["eta"] == setup.session_of(session.reader).completed_at + timedelta(
            days=28
        )
    # Run too early (eager Celery ignores the eta): nothing is sent, nothing recorded.
    aided = setup.session_of(english, SessionPhase.AIDED)
    assert notify_washout_ended.delay(session_id=str(aided.pk)).get() is False
    assert mail.outbox == [] and not WashoutNotice.objects.exists()
    assert washout_notices_sweep() == 0
    clock.advance(days=28, minutes=1)
    assert len(washout_notices_due()) == 2
    assert notify_washout_ended.delay(session_id=str(aided.pk)).get() is True
    assert notify_washout_ended.delay(session_id=str(aided.pk)).get() is False  # once only
    assert washout_notices_sweep() == 1  # the other reader's, which the sweep catches up
    assert washout_notices_sweep() == 0
    assert len(mail.outbox) == 2
    by_address = {m.to[0]: m for m in mail.outbox}
    assert "aided session" in by_address["en@example.org"].subject
    assert setup.study.title in by_address["en@example.org"].body
    assert "/read/" in by_address["en@example.org"].body
    assert "aided session" not in by_address["zh@example.org"].subject  # in Chinese
    notices = {n.session.reader: n for n in WashoutNotice.objects.select_related("session__reader")}
    assert notices[chinese].language == "zh-hans" and notices[english].email == "en@example.org"
    # The worklist says so too.
    client = Client()
    client.force_login(english)
    page = client.get(reverse("readers:worklist")).content.decode()
    assert "washout-ended" in page


def test_a_failed_send_is_retried_by_the_sweep(clock, django_capture_on_commit_callbacks):
    setup = reading_study(
        design=StudyDesign.ASSISTED_CROSSOVER, n_cases=2, washout_days=1, prefix="wf"
    )
    reader = setup.readers[0]
    reader.email = "r@example.org"
    reader.save(update_fields=["email"])
    with (
        mock.patch.object(notify_washout_ended, "apply_async"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        read_all(reader, setup.session_of(reader), clock)
    clock.advance(days=2)
    with mock.patch("readers.notifications.send_mail", side_effect=OSError("SMTP down")):
        assert washout_notices_sweep() == 0
    assert not WashoutNotice.objects.exists() and mail.outbox == []
    assert washout_notices_sweep() == 1 and len(mail.outbox) == 1
