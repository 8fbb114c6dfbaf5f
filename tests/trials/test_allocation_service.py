"""Allocation in the database: made once before opening, committed, concealed, verified."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tests.trials.factories import PASSWORD, signature_for
from trials import services
from trials.models import Allocation, AuditEvent, StudyDesign
from trials.services.allocation import allocation_disclose, allocation_generate

pytestmark = pytest.mark.django_db


@pytest.fixture
def trial(django_user_model):
    coordinator = django_user_model.objects.create_user("coord", password=PASSWORD)
    juniors = [django_user_model.objects.create_user(f"j{i}") for i in range(6)]
    seniors = [django_user_model.objects.create_user(f"s{i}") for i in range(2)]
    study = services.study_create(
        actor=coordinator, title="Source trial", design=StudyDesign.SOURCE_BLINDED
    )
    dataset = services.dataset_create(
        actor=coordinator, study=study, name="Internal", kind="internal"
    )
    for i in range(20):
        services.case_create(
            actor=coordinator,
            dataset=dataset,
            code=f"C{i:02d}",
            conditions=["normal"],
            probe_type="convex" if i % 2 else "linear",
        )
    return coordinator, study, juniors, seniors


def test_generate_open_lock_unblind_verify(trial):
    coordinator, study, juniors, seniors = trial
    allocation_list = allocation_generate(
        actor=coordinator, study=study, juniors=juniors, seniors=seniors, stratify_by="probe_type"
    )
    assert Allocation.objects.filter(allocation_list=allocation_list).count() == 20 * 2
    study = services.study_transition(actor=coordinator, study=study, to="open")
    assert study.allocation_commitment == allocation_list.commitment
    committed = AuditEvent.objects.filter(study_id=study.pk, action="allocation.committed")
    assert committed.count() == 2
    assert all("allocation" not in e.after for e in committed)  # only the hash is audited
    with pytest.raises(PermissionDenied):
        allocation_disclose(study=study)
    study = services.study_transition(
        actor=coordinator, study=study, to="locked", signature=signature_for(coordinator)
    )
    with pytest.raises(PermissionDenied):
        allocation_disclose(study=study)
    study = services.study_transition(
        actor=coordinator,
        study=study,
        to="unblinded",
        reason="primary analysis",
        signature=signature_for(coordinator),
    )
    disclosure = allocation_disclose(study=study)
    assert disclosure.verified


def test_a_changed_allocation_fails_verification(trial):
    coordinator, study, juniors, seniors = trial
    allocation_list = allocation_generate(
        actor=coordinator, study=study, juniors=juniors, seniors=seniors
    )
    for to in ("open", "locked"):
        study = services.study_transition(
            actor=coordinator, study=study, to=to, signature=signature_for(coordinator)
        )
    study = services.study_transition(
        actor=coordinator,
        study=study,
        to="unblinded",
        reason="analysis",
        signature=signature_for(coordinator),
    )
    tampered = allocation_list.document.replace('"source":"ai"', '"source":"junior"', 1)
    type(allocation_list).objects.filter(pk=allocation_list.pk).update(document=tampered)
    disclosure = allocation_disclose(study=study)
    assert not disclosure.hash_matches and not disclosure.verified


def test_allocation_is_made_once_and_only_in_draft(trial):
    coordinator, study, juniors, seniors = trial
    allocation_generate(actor=coordinator, study=study, juniors=juniors, seniors=seniors)
    with pytest.raises(ValidationError, match="cannot change"):
        allocation_generate(actor=coordinator, study=study, juniors=juniors, seniors=seniors)


def test_opening_without_allocation_is_refused(trial):
    coordinator, study, _, _ = trial
    with pytest.raises(ValidationError, match="Generate the allocation"):
        services.study_transition(actor=coordinator, study=study, to="open")


def test_the_seed_is_drawn_by_the_server_and_cannot_be_chosen(trial, django_user_model):
    """The coordinator cannot type a seed, so he cannot compute the allocation beforehand."""
    coordinator, study, juniors, seniors = trial
    with pytest.raises(TypeError):
        allocation_generate(
            actor=coordinator, study=study, juniors=juniors, seniors=seniors, seed=42
        )
    first = allocation_generate(actor=coordinator, study=study, juniors=juniors, seniors=seniors)
    twin = services.study_create(actor=coordinator, title="Twin", design=StudyDesign.SOURCE_BLINDED)
    dataset = services.dataset_create(
        actor=coordinator, study=twin, name="Internal", kind="internal"
    )
    for case in study.cases.order_by("code"):
        services.case_create(
            actor=coordinator,
            dataset=dataset,
            code=case.code,
            conditions=["normal"],
            probe_type=case.probe_type,
        )
    second = allocation_generate(actor=coordinator, study=twin, juniors=juniors, seniors=seniors)
    assert first.seed != second.seed
    content = json.loads(first.document)
    assert content["parameters"]["seed"] == first.seed
    assert len(content["nonce"]) == 64 and content["nonce"] != json.loads(second.document)["nonce"]


def test_the_commitment_is_salted_with_a_secret_nonce(trial):
    """Knowing the case ids (and even the seed) does not let anyone recompute the commitment."""
    coordinator, study, juniors, seniors = trial
    allocation_list = allocation_generate(
        actor=coordinator, study=study, juniors=juniors, seniors=seniors
    )
    assert (
        hashlib.sha256(allocation_list.document.encode()).hexdigest() == allocation_list.commitment
    )
    content = json.loads(allocation_list.document)
    nonce = content.pop("nonce")
    unsalted = json.dumps(content, sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(unsalted.encode()).hexdigest() != allocation_list.commitment
    # Neither the seed nor the nonce is in the audit trail before unblinding.
    for event in AuditEvent.objects.filter(study_id=study.pk):
        text = json.dumps([event.before, event.after, event.reason])
        assert nonce not in text and str(allocation_list.seed) not in text
    study = services.study_transition(actor=coordinator, study=study, to="open")
    for event in AuditEvent.objects.filter(study_id=study.pk):
        assert nonce not in json.dumps([event.before, event.after, event.reason])
