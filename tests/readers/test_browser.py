"""The reading workstation in a real browser (Playwright driving Debian's headless Chromium)."""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from readers import services
from readers.models import Read, SessionPhase
from readers.services import ReadAnswer
from tests.readers.factories import reading_study
from trials.models import StudyDesign

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def answer_by_keyboard(page, confidence: str = "80") -> None:
    """Severe yes, confidence, submit and next — keys only."""
    page.wait_for_selector("#answer-form")
    page.keyboard.press("y")
    page.keyboard.press("c")
    page.keyboard.type(confidence)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_reader_completes_an_unaided_session_by_keyboard(page_for, live_server):
    setup = reading_study(n_cases=2, prefix="kbd")
    reader = setup.readers[0]
    page = page_for(reader)
    page.goto(live_server.url + reverse("readers:worklist"))
    page.keyboard.press("Tab")
    page.get_by_role("link", name="Start").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/read/" in page.url
    # The workstation at 1280×800: six views, two sweeps, the form's button in view.
    assert page.locator(".ws-view[data-view-key]").count() == 6
    assert page.locator("[data-cine] video").count() == 2
    box = page.locator("#submit-next").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 800
    page.keyboard.press("1")
    assert page.locator("#ws-lightbox").is_visible()
    page.keyboard.press("+")
    page.keyboard.press("Escape")
    assert not page.locator("#ws-lightbox").is_visible()
    page.keyboard.press("]")
    assert page.locator("[data-cine-speed]").inner_text() == "1.5×"
    answer_by_keyboard(page, "80")
    answer_by_keyboard(page, "65")
    assert page.locator("#session-done").is_visible()
    reads = Read.objects.filter(reader=reader).order_by("answered_at")
    assert [(r.severe, r.confidence) for r in reads] == [(True, 80), (True, 65)]
    # No way back: the first case's page now sends the reader on.
    first_token = reads[0].assignment.token
    page.goto(live_server.url + reverse("readers:case", kwargs={"token": first_token}))
    assert page.locator("#session-done").is_visible()


def test_aided_session_is_refused_before_the_washout_and_works_after(
    page_for, live_server, chromium
):
    setup = reading_study(
        design=StudyDesign.ASSISTED_CROSSOVER, n_cases=1, prefix="wash", washout_days=28
    )
    reader = setup.readers[0]
    unaided = setup.session_of(reader)
    assignment = services.session_next_assignment(session=unaided)
    services.assignment_serve(reader=reader, assignment=assignment)
    services.read_submit(
        reader=reader,
        assignment=assignment,
        client_event_id=uuid.uuid4(),
        answer=ReadAnswer(severe=False, confidence=10),
    )
    aided = setup.session_of(reader, SessionPhase.AIDED)
    url = live_server.url + reverse("readers:session", kwargs={"session_id": aided.pk})
    page = page_for(reader)
    response = page.goto(url)
    assert response.status == 403
    assert page.locator("#refusal").is_visible()
    assert page.locator(".ws-material").count() == 0
    later = timezone.now() + timedelta(days=28, minutes=5)
    with mock.patch("django.utils.timezone.now", return_value=later):
        page = page_for(reader)  # a fresh login: the old session cookie has expired by then
        page.goto(url)
        assert "/read/" in page.url
        assert page.locator(".ws-material").is_visible()
        assert "AI diagnosis" in page.locator(".ws-material h3").inner_text()
        assert page.locator(".ws-material img").count() == 5  # one view not obtainable
        answer_by_keyboard(page, "90")
        assert page.locator("#session-done").is_visible()
    assert Read.objects.filter(assignment__session=aided).count() == 1


def test_active_time_excludes_a_hidden_tab_pause(page_for, live_server):
    setup = reading_study(n_cases=1, prefix="tab")
    reader = setup.readers[0]
    page = page_for(reader)
    page.goto(
        live_server.url
        + reverse("readers:session", kwargs={"session_id": setup.session_of(reader).pk})
    )
    page.wait_for_selector("#answer-form")
    time.sleep(1.0)

    def set_visibility(state: str) -> None:
        with page.expect_response(lambda r: r.url.endswith("/activity/") and r.status == 204):
            page.evaluate(
                """state => {
                    Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => state});
                    Object.defineProperty(document, 'hidden', {configurable: true, get: () => state === 'hidden'});
                    document.dispatchEvent(new Event('visibilitychange'));
                }""",
                state,
            )

    set_visibility("hidden")
    time.sleep(3.0)
    set_visibility("visible")
    time.sleep(0.5)
    answer_by_keyboard(page, "50")
    read = Read.objects.get(reader=reader)
    assert read.wall_ms >= 4400
    assert read.active_ms <= read.wall_ms - 2900  # the 3 s hidden pause is not counted
    assert read.active_ms >= 1400
    assert read.read_ms == read.active_ms
