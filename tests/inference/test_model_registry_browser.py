"""A model administrator in a real browser registers a model directory and verifies it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission

from inference.models import ModelVersion
from tests.inference.test_model_registry import TRAIN_DETECTOR, flip_byte, make_trained_dir
from tests.trials.factories import MembershipFactory, StudyFactory, UserFactory
from trials.models import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


def test_coordinator_registers_and_verifies_a_model(
    page_for: Any, live_server: Any, tmp_path: Path
) -> None:
    directory = make_trained_dir(tmp_path / "hospital-model")
    admin = UserFactory(username="model-coordinator")
    admin.user_permissions.add(
        Permission.objects.get(content_type__app_label="inference", codename="add_modelversion")
    )
    reader = UserFactory(username="model-page-reader")
    MembershipFactory(study=StudyFactory(), user=reader, role=Role.READER)

    page = page_for(admin)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/models/")
    page.wait_for_selector("text=No model registered yet.")

    page.fill("#id_directory", str(directory))
    page.fill("#id_name", "hospital-cus")
    page.fill("#id_version", "2026.1")
    page.click("#register-form button[type=submit]")
    page.wait_for_selector("text=Registered hospital-cus 2026.1 (7 files, SHA-256 recorded).")

    model = ModelVersion.objects.get(name="hospital-cus", version="2026.1")
    assert not model.is_demo and model.registered_by_id == admin.pk
    section = page.locator(f"#model-{model.pk}")
    assert section.locator(".model-profile").inner_text() == "full"
    provenance = section.locator(".model-provenance").inner_text()
    assert "trained with the platform" in provenance and TRAIN_DETECTOR in provenance
    assert "out_of_fold_auc 0.912" in section.locator(".model-metrics").inner_text()
    assert section.locator(".model-demo").inner_text() == "no"
    section.locator("summary").click()
    detector = next(f for f in model.files if f["path"] == "detector-full/detector.safetensors")
    assert section.locator(f"code:has-text('{detector['sha256']}')").is_visible()
    assert "passed" in section.locator(".model-verification").inner_text()

    # The same directory again is refused on the form.
    page.fill("#id_directory", str(directory))
    page.fill("#id_name", "hospital-cus")
    page.fill("#id_version", "2026.1")
    page.click("#register-form button[type=submit]")
    page.wait_for_selector("#register-errors:has-text('registered already')")

    # A byte changes in a weights file: verification fails, and says which file.
    flip_byte(directory / "detector-full" / "detector.safetensors")
    page.locator(f"#model-{model.pk} .verify-form button").click()
    page.wait_for_selector(f"#model-{model.pk} .verification-failed")
    text = page.locator(f"#model-{model.pk} .model-verification").inner_text()
    assert "FAILED: the model cannot run" in text
    assert "detector-full/detector.safetensors: changed since registration" in text
    model.refresh_from_db()
    assert model.verification_ok is False
    assert not [e for e in errors if "Content Security Policy" in e], errors

    # A reader is refused the page.
    reader_page = page_for(reader)
    response = reader_page.goto(f"{live_server.url}/models/")
    assert response is not None and response.status == 403
    assert "hospital-cus" not in reader_page.content()
