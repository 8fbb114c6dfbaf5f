"""Object-level access: a member of study B sees nothing of study A, pages or API."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.test import Client
from rest_framework.test import APIClient

from tests.trials.conftest import TwoStudies, zip_bytes
from tests.trials.factories import UserFactory
from trials.models import Case, Role, Study
from trials.permissions import access_case, access_study

pytestmark = pytest.mark.django_db

OUTSIDERS = ("coordinator_b", "reader_b", "statistician_b", "stranger")


def _user(world: TwoStudies, who: str) -> Any:
    return UserFactory(username="stranger") if who == "stranger" else getattr(world, who)


def test_access_helpers(two_studies: TwoStudies) -> None:
    world = two_studies
    assert access_study(world.coordinator_a, world.study_a.pk) == world.study_a
    assert (
        access_case(world.coordinator_a, world.case_a.pk, roles=(Role.COORDINATOR,)) == world.case_a
    )
    for user in (world.coordinator_b, world.reader_b):
        with pytest.raises(Http404):
            access_study(user, world.study_a.pk)
        with pytest.raises(Http404):
            access_case(user, world.case_a.pk, roles=tuple(Role))
    with pytest.raises(PermissionDenied):  # a member without the role: 403, not 404
        access_study(world.reader_b, world.study_b.pk, roles=(Role.COORDINATOR,))
    with pytest.raises(Http404):
        access_study(world.coordinator_a, "not-a-uuid")


@pytest.mark.parametrize("who", OUTSIDERS)
def test_pages_of_study_a_are_404_for_outsiders(two_studies: TwoStudies, who: str) -> None:
    world = two_studies
    client = Client()
    client.force_login(_user(world, who))
    a, case, rendition = world.study_a.pk, world.case_a.pk, world.rendition_a.pk
    for url in (
        f"/studies/{a}/",
        f"/studies/{a}/import/",
        f"/cases/{case}/",
        f"/renditions/{rendition}/",
    ):
        assert client.get(url).status_code == 404, url
    posts = {
        f"/studies/{a}/transition/": {"to": "open", "confirm": "on"},
        f"/studies/{a}/add/site/": {"name": "Sneaky"},
        f"/studies/{a}/add/member/": {
            "username": _user(world, who).username,
            "role": "coordinator",
        },
        f"/studies/{a}/import/": {"archive": SimpleUploadedFile("x.zip", zip_bytes([], {}))},
    }
    for url, data in posts.items():
        assert client.post(url, data).status_code == 404, url
    home = client.get("/").content.decode()
    assert "Study A" not in home
    world.study_a.refresh_from_db()
    assert world.study_a.status == "draft"
    assert not world.study_a.sites.exists()
    assert world.study_a.memberships.count() == 1


@pytest.mark.parametrize("who", OUTSIDERS)
def test_api_of_study_a_is_404_for_outsiders(two_studies: TwoStudies, who: str) -> None:
    world = two_studies
    api = APIClient()
    api.force_authenticate(_user(world, who))
    a, case = world.study_a.pk, world.case_a.pk
    listing = api.get("/api/studies/").json()
    assert str(a) not in str(listing)
    gets = [
        f"/api/studies/{a}/",
        *(
            f"/api/studies/{a}/{child}/"
            for child in ("sites", "datasets", "members", "cases", "materials", "audit")
        ),
        f"/api/studies/{a}/cases/{case}/",
    ]
    for url in gets:
        assert api.get(url).status_code == 404, url
    posts = {
        f"/api/studies/{a}/transition/": {"to": "open"},
        f"/api/studies/{a}/sites/": {"name": "Sneaky"},
        f"/api/studies/{a}/datasets/": {"name": "Sneaky", "kind": "internal"},
        f"/api/studies/{a}/members/": {"user": "stranger", "role": "coordinator"},
        f"/api/studies/{a}/cases/": {
            "code": "X",
            "dataset": str(world.case_a.dataset_id),
            "conditions": ["normal"],
        },
        f"/api/studies/{a}/cases/{case}/exclude/": {"reason": "sneaky"},
    }
    for url, data in posts.items():
        assert api.post(url, data, format="json").status_code == 404, url
    upload = api.post(
        f"/api/studies/{a}/cases/{case}/assets/",
        {"file": SimpleUploadedFile("x.png", b"x"), "kind": "view_image", "view": "AHV"},
        format="multipart",
    )
    assert upload.status_code == 404
    imported = api.post(
        f"/api/studies/{a}/import/",
        {"archive": SimpleUploadedFile("x.zip", zip_bytes([], {}))},
        format="multipart",
    )
    assert imported.status_code == 404
    assert Study.objects.get(pk=a).status == "draft"
    assert Case.objects.filter(study_id=a).count() == 1
    assert not world.case_a.__class__.objects.get(pk=case).excluded


def test_study_b_coordinator_cannot_reach_a_through_b(two_studies: TwoStudies) -> None:
    """Study A's objects named under study B's URLs are unknown too."""
    world = two_studies
    api = APIClient()
    api.force_authenticate(world.coordinator_b)
    b, case = world.study_b.pk, world.case_a.pk
    assert api.get(f"/api/studies/{b}/cases/{case}/").status_code == 404
    assert api.post(f"/api/studies/{b}/cases/{case}/exclude/", {"reason": "x"}).status_code == 404
    response = api.post(
        f"/api/studies/{b}/cases/",
        {"code": "X", "dataset": str(world.case_a.dataset_id), "conditions": ["normal"]},
        format="json",
    )
    assert response.status_code == 400
    assert "does not exist" in str(response.json())  # the same answer as for an unknown id
    assert not Case.objects.filter(study=world.study_b).exists()


def test_roles_inside_a_study(two_studies: TwoStudies) -> None:
    world = two_studies
    reader, statistician = Client(), Client()
    reader.force_login(world.reader_b)
    statistician.force_login(world.statistician_b)
    b = world.study_b.pk
    assert reader.get(f"/studies/{b}/").status_code == 403
    assert statistician.get(f"/studies/{b}/").status_code == 200
    assert statistician.get(f"/studies/{b}/import/").status_code == 403
    api = APIClient()
    api.force_authenticate(world.reader_b)
    assert api.get(f"/api/studies/{b}/cases/").status_code == 403
    assert api.get(f"/api/studies/{b}/").status_code == 200
    api.force_authenticate(world.statistician_b)
    assert api.get(f"/api/studies/{b}/datasets/").status_code == 200
    assert (
        api.get(f"/api/studies/{b}/cases/").status_code == 403
    )  # the gold standard waits for lock
    assert api.get(f"/api/studies/{b}/members/").status_code == 403
    assert api.post(f"/api/studies/{b}/transition/", {"to": "open"}).status_code == 403


def test_anonymous_users_are_sent_to_login(two_studies: TwoStudies) -> None:
    client = Client()
    response = client.get(f"/studies/{two_studies.study_a.pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.get(f"/renditions/{two_studies.rendition_a.pk}/").status_code == 302
    assert APIClient().get("/api/studies/").status_code == 403


def test_coordinator_a_sees_study_a(two_studies: TwoStudies) -> None:
    world = two_studies
    client = Client()
    client.force_login(world.coordinator_a)
    assert client.get(f"/studies/{world.study_a.pk}/").status_code == 200
    page = client.get(f"/cases/{world.case_a.pk}/")
    assert (
        page.status_code == 200 and f"/renditions/{world.rendition_a.pk}/" in page.content.decode()
    )
    assert client.get(f"/renditions/{world.rendition_a.pk}/").status_code == 200
