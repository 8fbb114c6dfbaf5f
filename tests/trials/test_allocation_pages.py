"""The randomization page and API: made once in draft, committed on open, disclosed only after unblinding."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from tests.readers.factories import PASSWORD as READER_PASSWORD
from tests.readers.source_trial_setup import source_trial_study
from trials.models import Allocation, AllocationList, AuditEvent

#: The coordinator's electronic signature for locking and unblinding.
SIGN = {"password": READER_PASSWORD, "meaning": "approval"}

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_randomize_commit_unblind_and_verify_through_the_pages():
    setup = source_trial_study(prefix="apg", n_cases=4, n_juniors=2, n_seniors=1, ai=False)
    study = setup.study
    page = reverse("readers:source-trial", kwargs={"study_id": study.pk})
    api = reverse("readers:api-allocation", kwargs={"study_id": study.pk})
    coordinator = Client()
    coordinator.force_login(setup.coordinator)
    body = coordinator.get(page).content.decode()
    assert 'id="allocation-form"' in body and "2 junior readers" in body
    assert 'name="seed"' not in body  # drawn by the server, never typed
    assert coordinator.post(page, {"stratify_by": "none", "block_sizes": "3"}).status_code == 400
    assert coordinator.post(page, {"stratify_by": "none", "block_sizes": "2,4"}).status_code == 302
    allocation = AllocationList.objects.get(study=study)
    assert Allocation.objects.filter(allocation_list=allocation).count() == 4
    # A second allocation is refused: the list cannot change.
    again = coordinator.post(api, {}, content_type="application/json")
    assert again.status_code == 400
    state = coordinator.get(api).json()
    assert state == {"status": "draft", "generated": True, "commitment": None, "disclosure": None}
    # Opening shows the commitment (and audits it); the allocation stays concealed.
    transition = reverse("trials:study-transition", kwargs={"study_id": study.pk})
    assert coordinator.post(transition, {"to": "open", "confirm": "on"}).status_code == 302
    body = coordinator.get(page).content.decode()
    assert allocation.commitment in body and 'id="allocation-document"' not in body
    for entry in Allocation.objects.filter(allocation_list=allocation).select_related("case"):
        assert entry.case.code not in body
    assert coordinator.get(api).json()["commitment"] == allocation.commitment
    assert AuditEvent.objects.filter(
        action="allocation.committed", after__commitment=allocation.commitment
    ).exists()
    # Nobody else reaches the page or the API.
    for user in (setup.statistician, setup.seniors[0], setup.juniors[0]):
        other = Client()
        other.force_login(user)
        for url in (page, api):
            response = other.get(url)
            assert response.status_code in (403, 404), (user, url)
            assert allocation.commitment not in response.content.decode()
    # Unblinding: not while open, not without a reason, only by the coordinator.
    unblind = {"to": "unblinded", "confirm": "on", "reason": "primary analysis", **SIGN}
    coordinator.post(transition, unblind)
    study.refresh_from_db()
    assert study.status == "open"
    coordinator.post(transition, {"to": "locked", "confirm": "on", **SIGN})
    assert 'id="unblind-form"' in coordinator.get(page).content.decode()
    stats = Client()
    stats.force_login(setup.statistician)
    stats.post(transition, unblind)
    coordinator.post(transition, {**unblind, "reason": ""})
    study.refresh_from_db()
    assert study.status == "locked"
    coordinator.post(transition, unblind)
    study.refresh_from_db()
    assert study.status == "unblinded"
    assert AuditEvent.objects.filter(action="study.unblinded", reason="primary analysis").exists()
    body = coordinator.get(page).content.decode()
    assert (
        "Verified ✓" in body
        and allocation.commitment in body
        and 'id="allocation-document"' in body
    )
    disclosure = coordinator.get(api).json()["disclosure"]
    assert disclosure["verified"] and disclosure["document"] == allocation.document
    # Seed and nonce are disclosed with the document, only now.
    assert (
        disclosure["seed"] == allocation.seed
        and disclosure["nonce"] == json.loads(allocation.document)["nonce"]
    )
    assert disclosure["nonce"] in body


def test_tampered_allocation_does_not_verify():
    setup = source_trial_study(prefix="tamp", n_cases=2, n_juniors=1, n_seniors=1, ai=False)
    client = Client()
    client.force_login(setup.coordinator)
    api = reverse("readers:api-allocation", kwargs={"study_id": setup.study.pk})
    assert (
        client.post(api, {"block_sizes": [2]}, content_type="application/json").status_code == 201
    )
    transition = reverse("trials:study-transition", kwargs={"study_id": setup.study.pk})
    client.post(transition, {"to": "open", "confirm": "on"})
    client.post(transition, {"to": "locked", "confirm": "on", **SIGN})
    client.post(transition, {"to": "unblinded", "confirm": "on", "reason": "analysis", **SIGN})
    allocation = AllocationList.objects.get(study=setup.study)
    AllocationList.objects.filter(pk=allocation.pk).update(
        document=allocation.document.replace('"ai"', '"AI"', 1)
    )
    body = client.get(
        reverse("readers:source-trial", kwargs={"study_id": setup.study.pk})
    ).content.decode()
    assert "Not verified ✗" in body


def test_a_typed_seed_is_refused_by_the_api_and_ignored_by_the_page():
    """The coordinator can neither choose the seed nor learn it before unblinding."""
    setup = source_trial_study(prefix="seed", n_cases=2, n_juniors=1, n_seniors=1, ai=False)
    client = Client()
    client.force_login(setup.coordinator)
    api = reverse("readers:api-allocation", kwargs={"study_id": setup.study.pk})
    refused = client.post(api, {"seed": 3, "block_sizes": [2]}, content_type="application/json")
    assert refused.status_code == 400 and "seed" in refused.json()
    assert not AllocationList.objects.filter(study=setup.study).exists()
    page = reverse("readers:source-trial", kwargs={"study_id": setup.study.pk})
    assert (
        client.post(page, {"seed": "3", "stratify_by": "none", "block_sizes": "2"}).status_code
        == 302
    )
    allocation = AllocationList.objects.get(study=setup.study)
    assert allocation.seed != 3
    nonce = json.loads(allocation.document)["nonce"]
    transition = reverse("trials:study-transition", kwargs={"study_id": setup.study.pk})
    client.post(transition, {"to": "open", "confirm": "on"})
    for _ in range(2):
        body = client.get(page).content.decode() + client.get(api).content.decode()
        assert str(allocation.seed) not in body and nonce not in body
        client.post(transition, {"to": "locked", "confirm": "on", **SIGN})
