"""The blinding audit's page and API: coordinators only, the aggregate only, at the old path."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from tests.readers.source_trial_setup import source_trial_study
from trials.services.allocation import allocation_generate

pytestmark = pytest.mark.django_db

PICKS = {"AHV": 2, "TVV": 4, "BV": 6, "MSV": 1, "RPSV": None, "LPSV": 5}


def test_the_audit_keeps_the_path_coordinators_used():
    study_id = "00000000-0000-0000-0000-000000000001"
    assert reverse("analysis:blinding-audit", kwargs={"study_id": study_id}) == (
        f"/studies/{study_id}/reading/blinding-audit/"
    )
    assert reverse("analysis:api-blinding-audit", kwargs={"study_id": study_id}) == (
        f"/api/reading/studies/{study_id}/blinding-audit/"
    )


def test_blinding_audit_page_shows_only_the_aggregate(django_capture_on_commit_callbacks):
    from readers.preparation import material_build

    setup = source_trial_study(prefix="aud", n_cases=5, n_juniors=1, n_seniors=1)
    with transaction.atomic():
        for case in setup.cases:
            material_build(
                actor=setup.coordinator,
                case=case,
                source="junior",
                author=setup.juniors[0],
                initial_severe=False,
                picks=PICKS,
            )
    client = Client()
    client.force_login(setup.coordinator)
    url = reverse("analysis:blinding-audit", kwargs={"study_id": setup.study.pk})
    with django_capture_on_commit_callbacks(execute=True):
        first = client.get(url)  # starts the job (a Celery task on commit; eager here)
    assert first.status_code == 200
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="audit-auc"' in body
    for case in setup.cases:
        assert case.code not in body
    api_url = reverse("analysis:api-blinding-audit", kwargs={"study_id": setup.study.pk})
    api = client.get(api_url).json()
    result = api["result"]
    assert api["materials"] == 10 and (result["n_ai"], result["n_junior"]) == (5, 5)
    assert 0.0 <= result["ci_low"] <= result["auc"] <= result["ci_high"] <= 1.0
    assert set(api) == {"scope", "materials", "problem", "result", "job"}  # nothing per material
    assert api["job"]["status"] == "complete"
    # The probe readers that timed the readers' media route are gone again.
    assert not setup.study.memberships.filter(user__username__startswith="blinding-probe-").exists()
    # Allocating changes nothing: the audit compares both sources of the same cases
    # (the allocated arms hold different cases, which would pass for source cues).
    allocation_generate(
        actor=setup.coordinator, study=setup.study, juniors=setup.juniors, seniors=setup.seniors
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(api_url).status_code == 202  # run again: queued, runs on commit
    again = client.get(api_url).json()
    assert again["materials"] == 10 and again["result"] is not None
    other = Client()
    other.force_login(setup.seniors[0])
    for name in ("analysis:blinding-audit", "analysis:api-blinding-audit"):
        assert other.get(reverse(name, kwargs={"study_id": setup.study.pk})).status_code in (
            403,
            404,
        )
