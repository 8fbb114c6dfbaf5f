"""factory-boy factories of the trials app (direct rows: no services, no audit)."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission, User

from core.labels import is_severe
from tests.model_factory import ModelFactory
from trials.models import (
    Case,
    Dataset,
    DatasetKind,
    GoldStandard,
    Membership,
    Role,
    Site,
    Study,
    StudyDesign,
)

PASSWORD = "a-long-test-password-1234"


class UserFactory(ModelFactory[User]):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password(PASSWORD)


class StudyFactory(ModelFactory[Study]):
    class Meta:
        model = Study

    title = factory.Sequence(lambda n: f"Study {n}")
    registry_id = factory.Sequence(lambda n: f"NCT{n:08d}")
    design = StudyDesign.STANDALONE


class SiteFactory(ModelFactory[Site]):
    class Meta:
        model = Site

    study = factory.SubFactory(StudyFactory)
    name = factory.Sequence(lambda n: f"Hospital {n}")


class DatasetFactory(ModelFactory[Dataset]):
    class Meta:
        model = Dataset

    study = factory.SubFactory(StudyFactory)
    site = factory.SubFactory(SiteFactory, study=factory.SelfAttribute("..study"))
    name = factory.Sequence(lambda n: f"Dataset {n}")
    kind = DatasetKind.INTERNAL


class CaseFactory(ModelFactory[Case]):
    class Meta:
        model = Case

    dataset = factory.SubFactory(DatasetFactory)
    study = factory.SelfAttribute("dataset.study")
    code = factory.Sequence(lambda n: f"C{n:04d}")
    ga_weeks = 30
    ga_days = 2
    birth_weight_g = 1400


class GoldStandardFactory(ModelFactory[GoldStandard]):
    """A gold standard whose ``severe`` follows the rule (as the service derives it)."""

    class Meta:
        model = GoldStandard

    case = factory.SubFactory(CaseFactory)
    conditions = factory.LazyFunction(lambda: ["normal"])
    ivh_grade = None
    severe = factory.LazyAttribute(lambda g: is_severe(g.conditions, g.ivh_grade))


class MembershipFactory(ModelFactory[Membership]):
    class Meta:
        model = Membership

    study = factory.SubFactory(StudyFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.COORDINATOR


def grant_study_creation(user: Any) -> Any:
    """Give ``user`` the platform permission to create studies (reloaded: perms are cached)."""
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="trials", codename="add_study")
    )
    return type(user).objects.get(pk=user.pk)


def signature_for(user: Any, *, password: str = PASSWORD, meaning: str = "approval") -> Any:
    """``user``'s electronic signature (his password re-entered), as trusted code makes it."""
    from trials.signatures import signature_make

    return signature_make(user=user, password=password, meaning=meaning)
