"""Electronic signatures and gold-standard corrections (issue 16, 21 CFR Part 11 style).

Proves: locking, unblinding, signing off and amending a gold standard are refused without
a signature or with a wrong password (service, pages, API), with no change; a valid
signature lands in the audit chain (signer, time, meaning, object, SHA-256 of the signed
content) and ``verify_audit`` passes; the signed hash changes with the content; an
amendment keeps old and new values and its reason; the Volpe grade goes through import,
API and pages; wrong passwords count toward the login lockout.
"""

from __future__ import annotations

import csv
import io
import zipfile
from io import StringIO
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests.trials.conftest import MANIFEST_HEADER, manifest_row, write_manifest
from tests.trials.factories import PASSWORD, UserFactory, signature_for
from trials import services
from trials.models import AuditEvent, GoldStandard, GoldStandardAmendment, Role, Study
from trials.services.gold_standards import gold_standard_content_sha256
from trials.services.studies import study_signed_content
from trials.signatures import (
    Signature,
    SignatureRefused,
    content_sha256,
    signature_make,
    signatures_of,
)

pytestmark = pytest.mark.django_db

SIGN = {"password": PASSWORD, "meaning": "approval"}


@pytest.fixture
def open_study(study: Study, coordinator: Any) -> Study:
    dataset = study.datasets.get()
    services.case_create(actor=coordinator, dataset=dataset, code="S-001", conditions=["normal"])
    services.case_create(
        actor=coordinator, dataset=dataset, code="S-002", conditions=["ivh"], ivh_grade=2
    )
    return services.study_transition(actor=coordinator, study=study, to="open")


@pytest.fixture
def gold(study: Study, coordinator: Any) -> GoldStandard:
    dataset = study.datasets.get()
    case = services.case_create(
        actor=coordinator,
        dataset=dataset,
        code="G-001",
        conditions=["ivh"],
        ivh_grade=2,
        volpe_grade="II",
    )
    return case.gold_standard


def _rows(study: Study) -> int:
    return AuditEvent.objects.filter(study_id=study.pk).count()


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(user: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


# --- the signature itself -----------------------------------------------------------------


def test_a_signature_needs_the_right_password_and_a_meaning(coordinator: Any) -> None:
    with pytest.raises(SignatureRefused):
        signature_make(user=coordinator, password="wrong", meaning="approval")
    with pytest.raises(SignatureRefused):
        signature_make(user=coordinator, password="", meaning="approval")
    with pytest.raises(ValidationError):
        signature_make(user=coordinator, password=PASSWORD, meaning="because")
    with pytest.raises(TypeError):  # only signature_make mints one
        Signature(
            user=coordinator,
            meaning="approval",
            authenticated_at=None,  # type: ignore[arg-type]  # deliberately wrong: under test
            _mint=object(),
        )
    assert signature_make(user=coordinator, password=PASSWORD, meaning="review").meaning == "review"


# --- lock and unblind ---------------------------------------------------------------------


def test_lock_and_unblind_are_refused_without_a_valid_signature(
    open_study: Study, coordinator: Any
) -> None:
    rows = _rows(open_study)
    with pytest.raises(ValidationError):
        services.study_transition(actor=coordinator, study=open_study, to="locked")
    other = UserFactory()
    services.membership_add(actor=coordinator, study=open_study, user=other, role=Role.COORDINATOR)
    rows = _rows(open_study)
    with pytest.raises(SignatureRefused):  # someone else's signature
        services.study_transition(
            actor=coordinator, study=open_study, to="locked", signature=signature_for(other)
        )
    open_study.refresh_from_db()
    assert (
        open_study.status == "open" and open_study.locked_at is None and _rows(open_study) == rows
    )
    signature = signature_for(coordinator)
    services.study_transition(actor=coordinator, study=open_study, to="locked", signature=signature)
    with pytest.raises(SignatureRefused):  # a signature is used once
        services.study_transition(
            actor=coordinator,
            study=open_study,
            to="unblinded",
            reason="analysis",
            signature=signature,
        )
    open_study.refresh_from_db()
    assert open_study.status == "locked"


def test_a_signed_lock_is_in_the_audit_chain_and_verifies(
    open_study: Study, coordinator: Any
) -> None:
    expected = content_sha256(study_signed_content(study=open_study, to="locked"))
    services.study_transition(
        actor=coordinator,
        study=open_study,
        to="locked",
        signature=signature_for(coordinator, meaning="authorship"),
    )
    services.study_transition(
        actor=coordinator,
        study=open_study,
        to="unblinded",
        reason="primary analysis",
        signature=signature_for(coordinator),
    )
    signed = AuditEvent.objects.filter(study_id=open_study.pk, action="signature.applied").order_by(
        "id"
    )
    assert signed.count() == 2
    lock = signed[0]
    assert lock.actor_id == coordinator.pk and lock.target_type == "trials.study"
    assert lock.target_id == str(open_study.pk)
    after = lock.after
    assert after["signer"] == "coord" and after["meaning"] == "authorship"
    assert after["meaning_text"] == "I am the author" and after["purpose"] == "study.locked"
    assert after["signed_at"] and after["content_sha256"] == expected
    assert content_sha256(after["content"]) == expected  # anyone can recompute it
    assert signed[1].after["purpose"] == "study.unblinded"
    change = AuditEvent.objects.get(
        study_id=open_study.pk, action="study.status_changed", after__status="locked"
    )
    assert change.after["signature"]["content_sha256"] == expected
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert "audit chains intact" in out.getvalue()


def test_the_signed_hash_changes_with_the_content(open_study: Study, gold: GoldStandard) -> None:
    first = content_sha256(study_signed_content(study=open_study, to="locked"))
    Study.objects.filter(pk=open_study.pk).update(title="Another title")
    open_study.refresh_from_db()
    assert content_sha256(study_signed_content(study=open_study, to="locked")) != first
    before = gold_standard_content_sha256(gold)
    GoldStandard.objects.filter(pk=gold.pk).update(volpe_grade="III", ivh_grade=3, severe=True)
    gold.refresh_from_db()
    assert gold_standard_content_sha256(gold) != before


def test_lock_and_unblind_through_the_page_need_the_password(
    open_study: Study, coordinator: Any
) -> None:
    client = _client(coordinator)
    url = reverse("trials:study-transition", kwargs={"study_id": open_study.pk})
    page = reverse("trials:study", kwargs={"study_id": open_study.pk})
    assert 'name="password"' in client.get(page).content.decode()
    for refused in (
        {},
        {"password": "wrong", "meaning": "approval"},
        {"password": PASSWORD, "meaning": "x"},
    ):
        response = client.post(url, {"to": "locked", "confirm": "on", **refused}, follow=True)
        assert response.status_code == 200
        open_study.refresh_from_db()
        assert open_study.status == "open"
    assert not AuditEvent.objects.filter(action="signature.applied").exists()
    body = client.post(url, {"to": "locked", "confirm": "on", **SIGN}, follow=True).content.decode()
    open_study.refresh_from_db()
    assert open_study.status == "locked"
    signature = AuditEvent.objects.get(action="signature.applied")
    assert 'id="study-signatures"' in body and signature.after["content_sha256"] in body
    assert "I approve" in body
    client.post(
        url,
        {
            "to": "unblinded",
            "confirm": "on",
            "reason": "analysis",
            "password": "nope",
            "meaning": "approval",
        },
    )
    open_study.refresh_from_db()
    assert open_study.status == "locked"
    client.post(url, {"to": "unblinded", "confirm": "on", "reason": "analysis", **SIGN})
    open_study.refresh_from_db()
    assert open_study.status == "unblinded"


def test_lock_through_the_api_needs_password_and_meaning(
    open_study: Study, coordinator: Any
) -> None:
    api = _api(coordinator)
    url = f"/api/studies/{open_study.pk}/transition/"
    for body in (
        {"to": "locked"},
        {"to": "locked", "password": "wrong", "meaning": "approval"},
        {"to": "locked", "password": PASSWORD},
    ):
        response = api.post(url, body, format="json")
        assert response.status_code == 400, body
    open_study.refresh_from_db()
    assert open_study.status == "open"
    response = api.post(url, {"to": "locked", **SIGN}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "locked"
    signatures = api.get(f"/api/studies/{open_study.pk}/signatures/").json()
    assert [s["purpose"] for s in signatures] == ["study.locked"]
    assert signatures[0]["signer"] == "coord" and len(signatures[0]["content_sha256"]) == 64


def test_wrong_signing_passwords_count_toward_the_login_lockout(
    open_study: Study, coordinator: Any, settings: Any
) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    client = _client(coordinator)
    url = reverse("trials:study-transition", kwargs={"study_id": open_study.pk})
    for _ in range(3):
        client.post(
            url, {"to": "locked", "confirm": "on", "password": "wrong", "meaning": "approval"}
        )
    assert AccessAttempt.objects.filter(username="coord").exists()
    client.post(
        url, {"to": "locked", "confirm": "on", **SIGN}
    )  # locked out: even the right one fails
    open_study.refresh_from_db()
    assert open_study.status == "open"


# --- gold standard: sign-off and amendments ------------------------------------------------


def test_gold_standard_sign_off_needs_a_signature_and_shows_if_still_current(
    gold: GoldStandard, coordinator: Any
) -> None:
    with pytest.raises(ValidationError):
        services.gold_standard_sign_off(
            actor=coordinator,
            gold_standard=gold,
            signature=None,  # type: ignore[arg-type]  # the refusal under test
        )
    assert signatures_of(gold) == []
    signed = services.gold_standard_sign_off(
        actor=coordinator,
        gold_standard=gold,
        signature=signature_for(coordinator, meaning="review"),
    )
    assert signed == gold_standard_content_sha256(gold)
    [view] = signatures_of(gold)
    assert view.meaning_text == "I have reviewed" and view.content_sha256 == signed
    page = reverse("trials:case", kwargs={"case_id": gold.case_id})
    client = _client(coordinator)
    body = client.get(page).content.decode()
    assert signed in body and "amended since" not in body
    services.gold_standard_amend(
        actor=coordinator,
        gold_standard=gold,
        reason="re-read of the MRI",
        ivh_grade=3,
        volpe_grade="III",
        signature=signature_for(coordinator),
    )
    gold.refresh_from_db()
    assert gold_standard_content_sha256(gold) != signed
    assert "amended since" in client.get(page).content.decode()


def test_amendment_keeps_old_and_new_values_and_reason(
    gold: GoldStandard, coordinator: Any
) -> None:
    study_id = gold.case.study_id
    rows = AuditEvent.objects.filter(study_id=study_id).count()
    for refused in (
        {"reason": "typo", "signature": None},
        {"reason": " ", "signature": signature_for(coordinator)},
        {"reason": "no change", "signature": signature_for(coordinator), "ivh_grade": 2},
        {
            "reason": "bad",
            "signature": signature_for(coordinator),
            "conditions": ["pvl"],
        },  # grade w/o IVH
        {"reason": "bad", "signature": signature_for(coordinator), "volpe_grade": "V"},
    ):
        with pytest.raises(ValidationError):
            services.gold_standard_amend(actor=coordinator, gold_standard=gold, **refused)
    gold.refresh_from_db()
    assert (gold.conditions, gold.ivh_grade, gold.volpe_grade, gold.severe) == (
        ["ivh"],
        2,
        "II",
        False,
    )
    assert AuditEvent.objects.filter(study_id=study_id).count() == rows
    amendment = services.gold_standard_amend(
        actor=coordinator,
        gold_standard=gold,
        reason="Second reader: grade III with dilation",
        conditions=["ivh", "ventricular_dilation"],
        ivh_grade=3,
        volpe_grade="III",
        signature=signature_for(coordinator, meaning="authorship"),
    )
    gold.refresh_from_db()
    assert gold.severe is True and gold.volpe_grade == "III" and gold.ivh_grade == 3
    assert amendment.before == {
        "conditions": ["ivh"],
        "ivh_grade": 2,
        "volpe_grade": "II",
        "severe": False,
    }
    assert amendment.after == {
        "conditions": ["ivh", "ventricular_dilation"],
        "ivh_grade": 3,
        "volpe_grade": "III",
        "severe": True,
    }
    assert amendment.reason == "Second reader: grade III with dilation"
    assert amendment.amended_by == coordinator and amendment.signature_meaning == "authorship"
    event = AuditEvent.objects.get(action="gold_standard.amended")
    assert event.before == amendment.before and event.reason == amendment.reason
    assert (
        event.after["volpe_grade"] == "III"
        and event.after["signature_sha256"] == amendment.signature_sha256
    )
    signed = AuditEvent.objects.get(
        action="signature.applied", after__purpose="gold_standard.amend"
    )
    assert signed.id < event.id and signed.after["content"]["before"] == amendment.before
    assert content_sha256(signed.after["content"]) == amendment.signature_sha256
    call_command("verify_audit", stdout=StringIO())


def test_amendment_through_the_page(gold: GoldStandard, coordinator: Any) -> None:
    client = _client(coordinator)
    page = reverse("trials:case", kwargs={"case_id": gold.case_id})
    url = reverse("trials:gold-standard-amend", kwargs={"case_id": gold.case_id})
    body = client.get(page).content.decode()
    assert 'id="amend-form"' in body and "Volpe grade" in body
    form = {
        "conditions": ["ivh"],
        "ivh_grade": "4",
        "volpe_grade": "III+PVI",
        "reason": "MRI at term",
    }
    assert client.post(url, {**form, "password": "wrong", "meaning": "approval"}).status_code == 400
    assert client.post(url, {**form, "meaning": "approval"}).status_code == 400
    assert not GoldStandardAmendment.objects.exists()
    response = client.post(url, {**form, **SIGN})
    assert response.status_code == 302
    gold.refresh_from_db()
    assert gold.ivh_grade == 4 and gold.volpe_grade == "III+PVI" and gold.severe
    body = client.get(page).content.decode()
    assert "MRI at term" in body and "Volpe III+PVI" in body and "(Papile 2)" in body
    sign_off = reverse("trials:gold-standard-sign-off", kwargs={"case_id": gold.case_id})
    assert client.post(sign_off, {"password": "wrong", "meaning": "approval"}).status_code == 400
    assert client.post(sign_off, SIGN).status_code == 302
    assert [v.purpose for v in signatures_of(gold)] == [
        "gold_standard.amend",
        "gold_standard.sign_off",
    ]


def test_gold_standard_api_sign_off_and_amend(gold: GoldStandard, coordinator: Any) -> None:
    api = _api(coordinator)
    base = f"/api/studies/{gold.case.study_id}/cases/{gold.case_id}/gold-standard"
    amend = {"ivh_grade": 3, "volpe_grade": "III", "reason": "consensus"}
    assert api.post(f"{base}/amend/", amend, format="json").status_code == 400
    refused = api.post(
        f"{base}/amend/", {**amend, "password": "wrong", "meaning": "approval"}, format="json"
    )
    assert refused.status_code == 400 and "password" in refused.json()
    gold.refresh_from_db()
    assert gold.ivh_grade == 2
    response = api.post(f"{base}/amend/", {**amend, **SIGN}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["before"]["volpe_grade"] == "II" and body["after"]["volpe_grade"] == "III"
    assert body["reason"] == "consensus" and body["amended_by"] == "coord"
    assert (
        api.post(
            f"{base}/sign-off/", {"password": "x", "meaning": "review"}, format="json"
        ).status_code
        == 400
    )
    signed = api.post(
        f"{base}/sign-off/", {"password": PASSWORD, "meaning": "review"}, format="json"
    )
    assert signed.status_code == 201 and signed.json()["meaning_text"] == "I have reviewed"
    detail = api.get(f"/api/studies/{gold.case.study_id}/cases/{gold.case_id}/").json()
    assert detail["gold_standard"]["volpe_grade"] == "III"
    assert [a["reason"] for a in detail["gold_standard_amendments"]] == ["consensus"]
    assert [s["purpose"] for s in detail["gold_standard_signatures"]] == [
        "gold_standard.amend",
        "gold_standard.sign_off",
    ]
    # Readers and statisticians (before lock) cannot amend.
    stats = UserFactory()
    services.membership_add(
        actor=coordinator, study=gold.case.study, user=stats, role=Role.STATISTICIAN
    )
    assert (
        _api(stats)
        .post(
            f"{base}/amend/", {**amend, "password": PASSWORD, "meaning": "approval"}, format="json"
        )
        .status_code
        == 403
    )


def test_amendment_refused_once_the_study_is_unblinded(
    gold: GoldStandard, coordinator: Any
) -> None:
    study = gold.case.study
    services.study_transition(actor=coordinator, study=study, to="open")
    services.study_transition(
        actor=coordinator, study=study, to="locked", signature=signature_for(coordinator)
    )
    services.gold_standard_amend(  # a correction while locked is allowed, signed
        actor=coordinator,
        gold_standard=gold,
        reason="late MRI",
        volpe_grade="I",
        ivh_grade=1,
        signature=signature_for(coordinator),
    )
    services.study_transition(
        actor=coordinator,
        study=study,
        to="unblinded",
        reason="analysis",
        signature=signature_for(coordinator),
    )
    with pytest.raises(ValidationError):
        services.gold_standard_amend(
            actor=coordinator,
            gold_standard=gold,
            reason="too late",
            ivh_grade=2,
            signature=signature_for(coordinator),
        )


# --- Volpe grade through import and API ----------------------------------------------------


def test_volpe_grade_through_the_import(study: Study, coordinator: Any, tmp_path: Any) -> None:
    header = [*MANIFEST_HEADER, "volpe_grade"]
    rows = [
        manifest_row("V-1", conditions="ivh", ivh_grade="3", volpe_grade="III"),
        manifest_row("V-2", conditions="normal", volpe_grade=""),
    ]
    manifest = write_manifest(tmp_path / "ok", rows, header=header)
    report = services.case_import(actor=coordinator, study=study, manifest=manifest, dry_run=False)
    assert report.ok, report.problems
    assert GoldStandard.objects.get(case__code="V-1").volpe_grade == "III"
    assert GoldStandard.objects.get(case__code="V-2").volpe_grade == ""
    bad = [
        manifest_row("V-3", conditions="ivh", ivh_grade="2", volpe_grade="IV"),
        manifest_row("V-4", conditions="pvl", volpe_grade="II"),
    ]
    report = services.case_import(
        actor=coordinator,
        study=study,
        manifest=write_manifest(tmp_path / "bad", bad, header=header),
    )
    assert {(p.row, p.column) for p in report.problems} == {(1, "volpe_grade"), (2, "volpe_grade")}


def test_volpe_grade_through_the_api_import_and_case_create(study: Study, coordinator: Any) -> None:
    api = _api(coordinator)
    dataset = study.datasets.get()
    created = api.post(
        f"/api/studies/{study.pk}/cases/",
        {
            "code": "API-1",
            "dataset": str(dataset.pk),
            "conditions": ["ivh"],
            "ivh_grade": 2,
            "volpe_grade": "II",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["gold_standard"]["volpe_grade"] == "II"
    refused = api.post(
        f"/api/studies/{study.pk}/cases/",
        {
            "code": "API-2",
            "dataset": str(dataset.pk),
            "conditions": ["normal"],
            "volpe_grade": "II",
        },
        format="json",
    )
    assert refused.status_code == 400 and "volpe_grade" in refused.json()
    # The ZIP import of the API takes the column as well.
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*manifest_row("x"), "volpe_grade"])
    writer.writeheader()
    writer.writerow(manifest_row("API-3", conditions="ivh", ivh_grade="4", volpe_grade="III+PVI"))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("manifest.csv", buffer.getvalue())
    upload = io.BytesIO(out.getvalue())
    upload.name = "cases.zip"
    response = api.post(
        f"/api/studies/{study.pk}/import/",
        {"archive": upload, "dry_run": False},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    assert GoldStandard.objects.get(case__code="API-3").volpe_grade == "III+PVI"


# --- trusted code: the demo builder --------------------------------------------------------


def test_the_demo_builder_signs_with_the_demo_coordinators_password(
    study: Study, coordinator: Any
) -> None:
    from analysis.demo import _finish
    from trials.demo import DEMO_PASSWORD

    coordinator.set_password(DEMO_PASSWORD)
    coordinator.save()
    _finish(study)
    study.refresh_from_db()
    assert study.status == "unblinded"
    signed = AuditEvent.objects.filter(study_id=study.pk, action="signature.applied").order_by("id")
    assert [e.after["purpose"] for e in signed] == ["study.locked", "study.unblinded"]
    assert {e.after["signer"] for e in signed} == {"coord"}
    call_command("verify_audit", stdout=StringIO())
