"""Roles and separation of duties (issue 16): who may create studies, hold which roles,
see answers in the audit trail and the gold standard, and edit trial data in the admin."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from rest_framework.test import APIClient

from readers import services as reader_services
from readers.services import ReadAnswer
from tests.readers.factories import reading_study
from tests.trials.factories import (
    CaseFactory,
    GoldStandardFactory,
    MembershipFactory,
    StudyFactory,
    UserFactory,
)
from trials import services
from trials.audit import audit_record
from trials.forms import MemberForm
from trials.models import (
    AuditAction,
    GoldStandard,
    MaterialSet,
    MaterialSource,
    Membership,
    Role,
    Study,
    StudyDesign,
    StudyStatus,
)

pytestmark = pytest.mark.django_db

STUDY = {"title": "T", "design": "standalone", "washout_days": 28, "cine_fps": 25}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(user: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


# ------------------------------------------------------------- creating studies


def test_creating_a_study_needs_the_platform_permission() -> None:
    anyone = UserFactory(username="anyone")
    assert _client(anyone).post("/studies/new/", STUDY).status_code == 403
    assert _api(anyone).post("/api/studies/", STUDY, format="json").status_code == 403
    assert "Create study" not in _client(anyone).get("/").content.decode()
    assert not Study.objects.exists()
    creator = UserFactory(username="creator")
    creator.user_permissions.add(
        Permission.objects.get(codename="add_study", content_type__app_label="trials")
    )
    creator = type(creator).objects.get(pk=creator.pk)  # permissions are cached per instance
    assert "Create study" in _client(creator).get("/").content.decode()
    assert _client(creator).post("/studies/new/", STUDY).status_code == 302
    assert _api(creator).post("/api/studies/", STUDY, format="json").status_code == 201
    assert Study.objects.count() == 2


# ------------------------------------------------- enrolment by username


def test_adding_a_member_answers_alike_for_unknown_usernames(study: Any, coordinator: Any) -> None:
    UserFactory(username="real-user")
    api = _api(coordinator)
    url = f"/api/studies/{study.pk}/members/"
    known = api.post(url, {"user": "real-user", "role": "statistician"}, format="json")
    unknown = api.post(url, {"user": "ghost-user", "role": "statistician"}, format="json")
    assert known.status_code == unknown.status_code
    assert str(known.json()).replace("real-user", "X") == str(unknown.json()).replace(
        "ghost-user", "X"
    )
    assert study.memberships.filter(user__username="real-user", role=Role.STATISTICIAN).exists()
    client = _client(coordinator)
    page = f"/studies/{study.pk}/add/member/"
    known_page = client.post(page, {"username": "real-user", "role": "coordinator"}, follow=True)
    unknown_page = client.post(page, {"username": "ghost-user", "role": "coordinator"}, follow=True)
    assert known_page.status_code == unknown_page.status_code == 200
    messages = [
        [str(m).replace(name, "X") for m in r.context["messages"]]
        for r, name in ((known_page, "real-user"), (unknown_page, "ghost-user"))
    ]
    assert messages[0] == messages[1] and messages[0]


# ---------------------------------------------------- separation of duties


@pytest.mark.parametrize("staff_role", [Role.COORDINATOR, Role.STATISTICIAN])
def test_a_reader_may_not_hold_a_staff_role_in_the_same_study(
    study: Any, coordinator: Any, staff_role: str
) -> None:
    person = UserFactory(username="two-hats")
    services.membership_add(actor=coordinator, study=study, user=person, role=staff_role)
    with pytest.raises(ValidationError, match="reader"):
        services.membership_add(actor=coordinator, study=study, user=person, role=Role.READER)
    with pytest.raises(ValidationError, match="reader"):
        reader_services.reader_enrol(actor=coordinator, study=study, user=person, tier="junior")
    # The other way round too.
    reader = UserFactory(username="only-reads")
    services.membership_add(actor=coordinator, study=study, user=reader, role=Role.READER)
    with pytest.raises(ValidationError, match="reader"):
        services.membership_add(actor=coordinator, study=study, user=reader, role=staff_role)
    assert set(study.memberships.filter(user=person).values_list("role", flat=True)) == {staff_role}
    assert set(study.memberships.filter(user=reader).values_list("role", flat=True)) == {
        Role.READER
    }
    # Coordinating and analysing one study is allowed; reading another study is too.
    other = StudyFactory()
    services.membership_add(actor=coordinator, study=other, user=person, role=Role.READER)
    for role in (Role.COORDINATOR, Role.STATISTICIAN):
        services.membership_add(actor=coordinator, study=study, user=person, role=role)


def test_separation_of_duties_in_form_api_page_and_database(study: Any, coordinator: Any) -> None:
    form = MemberForm({"username": coordinator.username, "role": "reader"}, study=study)
    assert not form.is_valid()
    assert "reader" in form.errors.as_text()
    assert MemberForm({"username": "someone", "role": "reader"}, study=study).is_valid()
    response = _api(coordinator).post(
        f"/api/studies/{study.pk}/members/",
        {"user": coordinator.username, "role": "reader"},
        format="json",
    )
    assert response.status_code == 400 and "reader" in str(response.json())
    _client(coordinator).post(
        f"/studies/{study.pk}/add/member/", {"username": coordinator.username, "role": "reader"}
    )
    enrol = _api(coordinator).post(
        f"/api/reading/studies/{study.pk}/readers/",
        {"username": coordinator.username, "tier": "senior"},
        format="json",
    )
    assert enrol.status_code == 400 and "reader" in str(enrol.json())
    assert not study.memberships.filter(user=coordinator, role=Role.READER).exists()
    # The database refuses it as well, whoever writes the row.
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(study=study, user=coordinator, role=Role.READER)
    reader = UserFactory(username="db-reader")
    Membership.objects.create(study=study, user=reader, role=Role.READER)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(study=study, user=reader, role=Role.STATISTICIAN)
    staff = UserFactory(username="db-staff")
    Membership.objects.create(study=study, user=staff, role=Role.STATISTICIAN)
    extra = Membership.objects.create(study=study, user=staff, role=Role.COORDINATOR)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.filter(pk=extra.pk).update(role=Role.READER)


# ------------------------------------------------ answers in the audit trail

ANSWER_KEYS = {"severe", "confidence", "conditions", "ivh_grade", "comment", "extra", "guess"}


def _answer_values(rows: list[dict[str, Any]]) -> list[Any]:
    return [
        (row["action"], key)
        for row in rows
        for part in (row["before"], row["after"])
        for key in part
        if key in ANSWER_KEYS
    ]


def test_audit_api_redacts_answers_and_guesses_until_lock() -> None:
    setup = reading_study(n_cases=2, n_readers=1, prefix="aud", allow_revisits=True)
    Study.objects.filter(pk=setup.study.pk).update(status=StudyStatus.OPEN)
    reader = setup.readers[0]
    assignment = reader_services.session_next_assignment(session=setup.session_of(reader))
    assert assignment is not None
    reader_services.assignment_serve(reader=reader, assignment=assignment)
    read = reader_services.read_submit(
        reader=reader,
        assignment=assignment,
        client_event_id=uuid.uuid4(),
        answer=ReadAnswer(
            severe=True, confidence=87, conditions=("hydrocephalus",), comment="canary-comment"
        ),
    )
    reader_services.read_revise(
        reader=reader,
        read=read,
        answer=ReadAnswer(severe=False, confidence=12),
        reason="canary-reason",
    )
    with transaction.atomic():  # a source guess as the source trial records it
        audit_record(
            actor=reader,
            action=AuditAction.SOURCE_GUESSED,
            target=read,
            study=setup.study,
            after={
                "assignment": assignment.token,
                "guess": "ai",
                "guessed_at": "2026-01-01T00:00:00",
            },
        )
    api = _api(setup.coordinator)
    url = f"/api/studies/{setup.study.pk}/audit/"
    for status in (StudyStatus.DRAFT, StudyStatus.OPEN):
        Study.objects.filter(pk=setup.study.pk).update(status=status)
        body = api.get(url, {"page_size": 500}).json()
        rows = body["results"] if isinstance(body, dict) else body
        actions = {row["action"] for row in rows}
        assert {"read.submitted", "read.revised", "source.guessed"} <= actions
        assert _answer_values(rows) == []
        text = str(rows)
        for canary in ("canary-comment", "canary-reason", "hydrocephalus", "'ai'"):
            assert canary not in text
        assert all(
            row["redacted"]
            for row in rows
            if row["action"] in {"read.submitted", "read.revised", "source.guessed"}
        )
    Study.objects.filter(pk=setup.study.pk).update(status=StudyStatus.LOCKED)
    body = api.get(url, {"page_size": 500}).json()
    rows = body["results"] if isinstance(body, dict) else body
    assert "canary-comment" in str(rows) and "canary-reason" in str(rows)
    assert not any(row["redacted"] for row in rows)


# --------------------------------------------- the gold standard before lock


def _statistician_world() -> tuple[Study, Any, Any]:
    study = StudyFactory(design=StudyDesign.STANDALONE, status=StudyStatus.OPEN)
    statistician = UserFactory(username="stat-gold")
    MembershipFactory(study=study, user=statistician, role=Role.STATISTICIAN)
    case = CaseFactory(study=study, dataset__study=study, code="GOLD-1")
    GoldStandardFactory(case=case, conditions=["hydrocephalus"])
    return study, statistician, case


def test_statisticians_see_the_gold_standard_only_after_lock() -> None:
    study, statistician, case = _statistician_world()
    client, api = _client(statistician), _api(statistician)
    for status in (StudyStatus.DRAFT, StudyStatus.OPEN):
        Study.objects.filter(pk=study.pk).update(status=status)
        page = client.get(f"/cases/{case.pk}/")
        assert page.status_code == 403 and "locked" in page.content.decode()
        listing = client.get(f"/studies/{study.pk}/")
        assert listing.status_code == 200 and "hydrocephalus" not in listing.content.decode()
        for url in (f"/api/studies/{study.pk}/cases/", f"/api/studies/{study.pk}/cases/{case.pk}/"):
            response = api.get(url)
            assert response.status_code == 403, url
            assert "locked" in response.json()["detail"]
    for status in (StudyStatus.LOCKED, StudyStatus.UNBLINDED):
        Study.objects.filter(pk=study.pk).update(status=status)
        assert "hydrocephalus" in client.get(f"/cases/{case.pk}/").content.decode()
        assert "hydrocephalus" in client.get(f"/studies/{study.pk}/").content.decode()
        assert api.get(f"/api/studies/{study.pk}/cases/").json()["results"][0]["gold_standard"][
            "severe"
        ]


# ----------------------------------------------------------- the Django admin


def test_admin_cannot_change_trial_data_without_an_audit_row(coordinator: Any, study: Any) -> None:
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = _client(admin)
    case = CaseFactory(study=study, dataset=study.datasets.get(), code="ADM-1")
    gold = GoldStandardFactory(case=case)
    material = MaterialSet.objects.create(
        case=case, source=MaterialSource.JUNIOR, author_user=coordinator
    )
    membership = study.memberships.get()
    objects: list[tuple[str, Any, dict[str, Any]]] = [
        (
            "study",
            study,
            {
                "title": "Changed",
                "design": "standalone",
                "status": "unblinded",
                "washout_days": 1,
                "cine_fps": 25,
            },
        ),
        ("goldstandard", gold, {"case": str(case.pk), "conditions": '["pvl"]'}),
        ("materialset", material, {"case": str(case.pk), "source": "ai", "status": "complete"}),
        (
            "membership",
            membership,
            {"study": str(study.pk), "user": str(coordinator.pk), "role": "reader"},
        ),
    ]
    for name, obj, data in objects:
        base = f"/admin/trials/{name}/"
        assert client.get(f"{base}{obj.pk}/change/").status_code == 200, name  # viewing stays
        assert client.post(f"{base}{obj.pk}/change/", data).status_code == 403, name
        assert client.post(f"{base}add/", data).status_code == 403, name
        assert client.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403, name
    study.refresh_from_db()
    assert study.title == "NCLS pilot" and study.status == StudyStatus.DRAFT
    assert GoldStandard.objects.get(pk=gold.pk).conditions == ["normal"]
    assert MaterialSet.objects.get(pk=material.pk).source == MaterialSource.JUNIOR
    assert Membership.objects.get(pk=membership.pk).role == Role.COORDINATOR
