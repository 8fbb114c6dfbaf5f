"""A coordinator in a real browser: log in, create a study, import cases, see renditions."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_until_true
from tests.trials.factories import PASSWORD, UserFactory, grant_study_creation
from trials.models import Case, Rendition, RenditionStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


def test_coordinator_creates_a_study_and_imports_cases(
    chromium: Any, live_server: Any, case_archive: Any, tmp_path: Path
) -> None:
    grant_study_creation(UserFactory(username="coordinator"))
    archive = tmp_path / "cases.zip"
    archive.write_bytes(case_archive(2, prefix="WEB"))
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    try:
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", "coordinator")
        page.fill("#id_password", PASSWORD)
        # The login form's own button: every page's header also has a language switch (submit
        # buttons, the current language's disabled), which comes first in the document.
        page.click("form:has(#id_password) button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

        page.fill("#id_title", "Browser study")
        page.fill("#id_registry_id", "NCT00000042")
        page.select_option("#id_design", "standalone")
        page.click("text=Create study")
        page.wait_for_selector("h1:has-text('Browser study')")
        assert page.inner_text("#study-status") == "Draft"

        page.click("text=Import cases")
        page.set_input_files("#id_archive", str(archive))
        assert page.is_checked("#id_dry_run")
        page.click("button:has-text('Check / import')")
        page.wait_for_selector("text=Dry run: no problems found")
        assert Case.objects.count() == 0

        page.set_input_files("#id_archive", str(archive))
        page.uncheck("#id_dry_run")
        page.click("button:has-text('Check / import')")
        page.wait_for_selector("h2:has-text('Imported')")
        assert Case.objects.count() == 2

        page.click("h1 a")  # back to the study
        page.wait_for_selector("text=WEB000")
        assert page.is_visible("text=WEB001")
        page.click("text=WEB001")
        page.wait_for_selector("text=Files and renditions")
        case = Case.objects.get(code="WEB001")
        renditions = Rendition.objects.filter(case=case)
        assert renditions.count() == 4
        assert {r.status for r in renditions} == {RenditionStatus.READY}
        images = page.locator("td img")
        videos = page.locator("td video")
        assert images.count() == 2 and videos.count() == 2
        wait_until_true(
            page,
            "Array.from(document.querySelectorAll('td img')).every(i => i.complete && i.naturalWidth > 0)",
        )
        for index in range(videos.count()):
            src = videos.nth(index).get_attribute("src")
            response = page.request.get(f"{live_server.url}{src}")
            assert response.status == 200 and response.headers["content-type"] == "video/mp4"
        assert not [e for e in errors if "Content Security Policy" in e], errors
    finally:
        context.close()
