"""A reader's tier belongs to his membership in one study (issue 16), and enrolment by
username tells nothing about which usernames exist."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from readers import services
from readers.source_trial import study_juniors_seniors
from tests.readers.factories import StudyFactory, UserFactory
from trials.models import Membership, Role, StudyDesign, StudyStatus

pytestmark = pytest.mark.django_db


def _coordinated_study(name: str, **fields) -> tuple:
    study = StudyFactory(title=name, **({"status": StudyStatus.DRAFT} | fields))
    coordinator = UserFactory(username=f"{name}-coordinator")
    Membership.objects.create(study=study, user=coordinator, role=Role.COORDINATOR)
    return study, coordinator


def test_enrolment_in_another_study_does_not_change_the_tier_here() -> None:
    trial, trial_coordinator = _coordinated_study("trial", design=StudyDesign.SOURCE_BLINDED)
    other, other_coordinator = _coordinated_study("other")
    senior = UserFactory(username="the-senior")
    services.reader_enrol(
        actor=trial_coordinator, study=trial, user=senior, tier="senior", years_experience=15
    )
    # Another study's coordinator enrols the same person with another tier.
    services.reader_enrol(
        actor=other_coordinator, study=other, user=senior, tier="junior", years_experience=1
    )
    assert study_juniors_seniors(trial) == ([], [senior])
    mine = Membership.objects.get(study=trial, user=senior, role=Role.READER)
    theirs = Membership.objects.get(study=other, user=senior, role=Role.READER)
    assert (mine.tier, mine.years_experience) == ("senior", 15)
    assert (theirs.tier, theirs.years_experience) == ("junior", 1)


def test_a_tier_changes_only_while_the_study_is_a_draft() -> None:
    study, coordinator = _coordinated_study("tiers")
    reader = UserFactory(username="tiers-reader")
    services.reader_enrol(actor=coordinator, study=study, user=reader, tier="junior")
    services.reader_enrol(
        actor=coordinator, study=study, user=reader, tier="mid_level", years_experience=4
    )
    study.status = StudyStatus.OPEN
    study.save()
    services.reader_enrol(
        actor=coordinator, study=study, user=reader, tier="mid_level", years_experience=4
    )
    with pytest.raises(ValidationError, match="draft"):
        services.reader_enrol(
            actor=coordinator, study=study, user=reader, tier="senior", years_experience=4
        )
    assert Membership.objects.get(study=study, user=reader, role=Role.READER).tier == "mid_level"


def test_enrolment_answers_alike_for_unknown_usernames() -> None:
    study, coordinator = _coordinated_study("enrol")
    UserFactory(username="enrol-known")
    client = Client()
    client.force_login(coordinator)
    api = reverse("readers:api-study-readers", kwargs={"study_id": study.pk})
    known = client.post(
        api, {"username": "enrol-known", "tier": "junior"}, content_type="application/json"
    )
    unknown = client.post(
        api, {"username": "enrol-ghost", "tier": "junior"}, content_type="application/json"
    )
    assert known.status_code == unknown.status_code
    assert known.content.decode().replace("enrol-known", "X") == unknown.content.decode().replace(
        "enrol-ghost", "X"
    )
    page = reverse("readers:coordinate", kwargs={"study_id": study.pk})
    answers = []
    for name in ("enrol-known", "enrol-ghost"):
        response = client.post(
            page,
            {"enrol-username": name, "enrol-tier": "senior", "enrol-years_experience": "3"},
            follow=True,
        )
        answers.append(
            (
                response.status_code,
                [str(m).replace(name, "X") for m in response.context["messages"]],
            )
        )
    assert answers[0] == answers[1]
    tiers = dict(
        Membership.objects.filter(study=study, role=Role.READER).values_list(
            "user__username", "tier"
        )
    )
    assert tiers == {"enrol-known": "senior"}


@pytest.mark.django_db(transaction=True)
def test_migration_copies_global_tiers_into_reader_memberships() -> None:
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    # Just before the tier moved: the parents of readers' migration 0003.
    before = [("trials", "0006_rendition_purpose_constraints"), ("readers", "0002_source_trial")]
    try:
        executor.migrate(before)
        apps = executor.loader.project_state(before).apps
        user_model = apps.get_model("auth", "User")
        old_membership = apps.get_model("trials", "Membership")
        old_study = apps.get_model("trials", "Study")
        old_profile = apps.get_model("readers", "ReaderProfile")
        study = old_study.objects.create(title="old", design="standalone")
        reader = user_model.objects.create(username="old-reader")
        coordinator = user_model.objects.create(username="old-coordinator")
        old_membership.objects.create(study=study, user=reader, role="reader")
        old_membership.objects.create(study=study, user=coordinator, role="coordinator")
        old_profile.objects.create(user=reader, tier="senior", years_experience=12)
        executor = MigrationExecutor(connection)
        executor.migrate(leaves)
        rows = dict(
            Membership.objects.filter(study_id=study.pk).values_list("user__username", "tier")
        )
        assert rows == {"old-reader": "senior", "old-coordinator": ""}
        assert Membership.objects.get(user__username="old-reader").years_experience == 12
    finally:
        MigrationExecutor(connection).migrate(leaves)
