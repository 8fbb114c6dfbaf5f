"""A coordinator in a real browser signs a study's lock and a gold-standard amendment."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.conftest import browser_login
from tests.trials.factories import PASSWORD, UserFactory
from trials import services
from trials.models import AuditEvent, DatasetKind, GoldStandard, GoldStandardAmendment, StudyDesign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


def _open_study() -> tuple[Any, Any, Any]:
    coordinator = UserFactory(username="signer")
    study = services.study_create(
        actor=coordinator, title="Signed study", design=StudyDesign.STANDALONE
    )
    dataset = services.dataset_create(
        actor=coordinator, study=study, name="Internal", kind=DatasetKind.INTERNAL
    )
    case = services.case_create(
        actor=coordinator,
        dataset=dataset,
        code="SIG-001",
        conditions=["ivh"],
        ivh_grade=2,
        volpe_grade="II",
    )
    study = services.study_transition(actor=coordinator, study=study, to="open")
    return coordinator, study, case


def _page(chromium: Any, live_server: Any, user: Any) -> tuple[Any, Any, list[str]]:
    context = chromium.new_context()
    browser_login(context, live_server, user)
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    return context, page, errors


def test_coordinator_signs_the_lock_in_the_browser(chromium: Any, live_server: Any) -> None:
    coordinator, study, _case = _open_study()
    context, page, errors = _page(chromium, live_server, coordinator)
    try:
        page.goto(f"{live_server.url}/studies/{study.pk}/")
        assert page.inner_text("#study-status") == "Open"
        form = page.locator("form.transition")
        # The page's own route, not the API's (the two share the name study-transition).
        assert form.get_attribute("action") == f"/studies/{study.pk}/transition/"
        form.locator("input[name=confirm]").check()
        form.locator("input[name=password]").fill("not my password")
        form.locator("select[name=meaning]").select_option("approval")
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        page.wait_for_selector(".message.error")
        assert "not correct" in page.inner_text(".message.error")
        assert page.inner_text("#study-status") == "Open"
        assert not AuditEvent.objects.filter(action="signature.applied").exists()

        form = page.locator("form.transition")
        form.locator("input[name=confirm]").check()
        form.locator("input[name=password]").fill(PASSWORD)
        form.locator("select[name=meaning]").select_option("authorship")
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        page.wait_for_selector("#study-signatures")
        assert page.inner_text("#study-status") == "Locked"
        signature = AuditEvent.objects.get(action="signature.applied")
        row = page.inner_text("#study-signatures tbody tr")
        assert (
            "signer" in row
            and "I am the author" in row
            and signature.after["content_sha256"] in row
        )
        assert not [e for e in errors if "Failed to load resource" not in e], errors  # favicon
    finally:
        context.close()


def test_coordinator_signs_an_amendment_in_the_browser(chromium: Any, live_server: Any) -> None:
    coordinator, _study, case = _open_study()
    context, page, errors = _page(chromium, live_server, coordinator)
    try:
        page.goto(f"{live_server.url}/cases/{case.pk}/")
        assert "Volpe grade II" in page.inner_text("#gold-standard")
        page.click("#gold-amendments summary")
        form = page.locator("#amend-form")
        form.locator("input[name=conditions][value=ventricular_dilation]").check()
        form.locator("select[name=ivh_grade]").select_option("3")
        form.locator("select[name=volpe_grade]").select_option("III")
        form.locator("textarea[name=reason]").fill("Consensus of two seniors")
        form.locator("input[name=password]").fill("wrong")
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        page.wait_for_selector(".message.error")
        assert not GoldStandardAmendment.objects.exists()

        form = page.locator("#amend-form")  # the page keeps what was typed, but not the password
        assert form.locator("textarea[name=reason]").input_value() == "Consensus of two seniors"
        form.locator("input[name=password]").fill(PASSWORD)
        form.locator("select[name=meaning]").select_option("approval")
        with page.expect_navigation():
            form.locator("button[type=submit]").click()
        page.wait_for_selector("#gold-amendments table")
        row = page.inner_text("#gold-amendments tbody tr")
        assert "Consensus of two seniors" in row and "(Papile 2)" in row and "(Volpe III)" in row
        assert "Volpe grade III" in page.inner_text("#gold-standard")
        gold = GoldStandard.objects.get(case=case)
        assert gold.severe and gold.conditions == ["ivh", "ventricular_dilation"]
        amendment = GoldStandardAmendment.objects.get()
        assert amendment.before["ivh_grade"] == 2 and amendment.after["ivh_grade"] == 3
        assert not [e for e in errors if "Failed to load resource" not in e], errors  # the 400
    finally:
        context.close()
