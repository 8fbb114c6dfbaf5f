"""The source trial end to end in a real browser (Playwright driving headless Chromium).

A junior prepares material by scrubbing the sweeps; the coordinator randomizes and the
opened study shows the commitment; the senior's guess locks before the diagnosis form
appears; after lock and unblinding the allocation verifies against the commitment.
"""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

from readers import services
from readers.models import Read, SourceGuess
from tests.conftest import wait_until_true
from tests.readers.factories import PASSWORD as READER_PASSWORD
from tests.readers.source_trial_setup import source_trial_study
from tests.trials.factories import signature_for
from trials.models import AllocationList, MaterialSet
from trials.services import study_transition

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def browser_viewport():
    return {"width": 1280, "height": 900}


def test_prepare_allocate_review_unblind_verify(page_for, live_server):
    setup = source_trial_study(prefix="brw", n_cases=1, n_juniors=1, n_seniors=1)
    study = setup.study
    trial_url = live_server.url + reverse("readers:source-trial", kwargs={"study_id": study.pk})

    # The coordinator randomizes in draft.
    coordinator = page_for(setup.coordinator)
    coordinator.goto(trial_url)
    with coordinator.expect_navigation():
        coordinator.click("#allocation-form button[type=submit]")
    assert coordinator.locator("#allocation-made").is_visible()
    services.session_create_for_design(actor=setup.coordinator, study=study, seed=1)
    study_transition(actor=setup.coordinator, study=study, to="open")
    coordinator.goto(trial_url)
    commitment = AllocationList.objects.get(study=study).commitment
    assert coordinator.locator("#commitment").inner_text().strip() == commitment

    # The junior scrubs the sweeps and picks each view.
    junior = page_for(setup.juniors[0])
    junior.goto(live_server.url + reverse("readers:worklist"))
    with junior.expect_navigation():
        junior.get_by_role("link", name="Start").click()
    junior.wait_for_selector("#prepare-form")
    wait_until_true(
        junior,
        "document.querySelectorAll('[data-cine] video').length === 2 && "
        "[...document.querySelectorAll('[data-cine] video')].every(v => v.readyState >= 1)",
    )
    for view in ("AHV", "TVV", "BV", "MSV", "RPSV"):
        # Step the sweep forward a couple of frames, then take the frame on screen.
        sweep = "coronal" if view in ("AHV", "TVV", "BV") else "sagittal"
        junior.locator(f'[data-cine][data-orientation="{sweep}"] video').click()
        junior.locator(
            f'[data-cine][data-orientation="{sweep}"] video'
        ).click()  # play, pause: current
        junior.keyboard.press(".")
        junior.keyboard.press(".")
        junior.wait_for_timeout(100)
        junior.click(f'button[data-pick-view="{view}"]')
        assert int(junior.input_value(f"input[name=frame_{view}]")) >= 1
    junior.check("input[name=missing_LPSV]")
    junior.check("input[name=initial_severe][value=yes]")
    with junior.expect_navigation():
        junior.click("#prepare-submit")
    junior.wait_for_selector("#session-done")
    material = MaterialSet.objects.get(source="junior")
    assert material.initial_severe and material.renditions.get(view="LPSV").not_obtainable
    assert material.renditions.filter(not_obtainable=False).count() == 5

    # The senior: the guess first, locked; only then the diagnosis.
    senior = page_for(setup.seniors[0])
    senior.goto(live_server.url + reverse("readers:worklist"))
    with senior.expect_navigation():
        senior.get_by_role("link", name="Start").click()
    assert senior.locator("#guess-form").is_visible()
    assert senior.locator("#answer-form").count() == 0
    assert senior.locator(".ws-material img").count() >= 4
    senior.check("input[name=guess][value=junior]")
    with senior.expect_navigation():
        senior.click("#guess-submit")
    assert "Junior" in senior.locator("#locked-guess").inner_text()
    assert senior.locator("#guess-form").count() == 0
    assert SourceGuess.objects.get().guess == "junior"
    senior.check("input[name=severe][value=yes]")
    senior.fill("input[name=confidence]", "70")
    senior.check("input[name=changes_initial][value=no]")
    with senior.expect_navigation():
        senior.click("#submit-next")
    senior.wait_for_selector("#session-done")
    read = Read.objects.get(reader=setup.seniors[0])
    assert read.answer["source_guess"] == "junior" and read.answer["changes_initial"] is False

    # Lock; the coordinator unblinds with a reason and the allocation verifies.
    study_transition(
        actor=setup.coordinator,
        study=study,
        to="locked",
        signature=signature_for(setup.coordinator, password=READER_PASSWORD),
    )
    coordinator.goto(trial_url)
    coordinator.check("#unblind-form input[name=confirm]")
    coordinator.fill("#unblind-form textarea[name=reason]", "primary analysis")
    coordinator.fill("#unblind-form input[name=password]", READER_PASSWORD)
    with coordinator.expect_navigation():
        coordinator.click("#unblind-form button[type=submit]")
    coordinator.goto(trial_url)
    assert "Verified ✓" in coordinator.locator("#verification").inner_text()
