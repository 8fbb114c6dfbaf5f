"""The counterbalanced crossover allocation: balance, determinism, commitment, verification."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tests.trials.factories import (
    CaseFactory,
    DatasetFactory,
    GoldStandardFactory,
    MembershipFactory,
    StudyFactory,
    UserFactory,
)
from trials import allocation as algorithm
from trials.models import AllocationList, AuditEvent, Role, StudyDesign, StudyStatus
from trials.services.allocation import allocation_disclose, crossover_allocation_generate

NONCE = "ab" * 32


def _cases(severe: int, non_severe: int) -> list[tuple[str, str]]:
    return [(f"s{i:03d}", "severe") for i in range(severe)] + [
        (f"n{i:03d}", "non-severe") for i in range(non_severe)
    ]


@pytest.mark.parametrize(("readers", "blocks"), [(8, 2), (9, 2), (7, 3), (6, 3), (11, 4)])
def test_blocks_and_sequences_are_balanced(readers, blocks):
    names = [f"r{i}" for i in range(readers)]
    cases = _cases(17, 26)
    for seed in range(20):
        reader_entries, case_entries = algorithm.allocate_crossover(
            names, cases, algorithm.CrossoverParameters(seed=seed, blocks=blocks, stratified=True)
        )
        assert sorted(e.reader for e in reader_entries) == sorted(names)
        sizes = Counter(e.block for e in reader_entries)
        assert set(sizes) == set(range(blocks)) and max(sizes.values()) - min(sizes.values()) <= 1
        for block in range(blocks):
            sequences = Counter(e.sequence for e in reader_entries if e.block == block)
            # Both sequences in every block; an odd block differs by one reader.
            assert abs(sequences[algorithm.AI_FIRST] - sequences[algorithm.UNAIDED_FIRST]) == (
                sizes[block] % 2
            )
        case_sizes = Counter(e.block for e in case_entries)
        assert max(case_sizes.values()) - min(case_sizes.values()) <= 1
        for stratum in ("severe", "non-severe"):
            per = Counter(e.block for e in case_entries if e.stratum == stratum)
            assert max(per.values()) - min(per.values()) <= 1 and len(per) == blocks


def test_odd_blocks_give_the_extra_reader_to_either_sequence_at_random():
    extra = Counter()
    for seed in range(200):
        entries, _ = algorithm.allocate_crossover(
            [f"r{i}" for i in range(3)],
            _cases(2, 2),
            algorithm.CrossoverParameters(seed=seed, blocks=1, stratified=True),
        )
        extra[Counter(e.sequence for e in entries).most_common(1)[0][0]] += 1
    assert 70 <= extra[algorithm.AI_FIRST] <= 130  # binomial(200, 1/2): ±4.2 SD


def test_the_allocation_is_deterministic_in_the_seed_and_recomputes_from_its_document():
    names, cases = [f"r{i}" for i in range(8)], _cases(10, 10)
    parameters = algorithm.CrossoverParameters(seed=42, blocks=2, stratified=True)
    first = algorithm.allocate_crossover(names, cases, parameters)
    assert algorithm.allocate_crossover(list(reversed(names)), cases[::-1], parameters) == first
    other = algorithm.allocate_crossover(
        names, cases, algorithm.CrossoverParameters(seed=43, blocks=2, stratified=True)
    )
    assert other != first
    document = algorithm.crossover_document(*first, parameters, nonce=NONCE)
    assert algorithm.crossover_recompute(document) == document
    content = json.loads(document)
    content["readers"][0]["sequence"] = (
        algorithm.UNAIDED_FIRST
        if content["readers"][0]["sequence"] == algorithm.AI_FIRST
        else algorithm.AI_FIRST
    )
    altered = json.dumps(content, sort_keys=True, separators=(",", ":"))
    assert algorithm.crossover_recompute(altered) != altered


def test_too_few_readers_or_cases_are_refused():
    with pytest.raises(ValueError, match="at least 4"):
        algorithm.allocate_crossover(
            ["a", "b", "c"], _cases(3, 3), algorithm.CrossoverParameters(1, 2, True)
        )
    with pytest.raises(ValueError, match="cannot fill"):
        algorithm.allocate_crossover(
            list("abcdef"), _cases(1, 1), algorithm.CrossoverParameters(1, 3, True)
        )


@pytest.mark.django_db
def test_service_commits_stores_and_verifies_after_unblinding_only():
    study = StudyFactory(design=StudyDesign.COUNTERBALANCED_CROSSOVER, crossover_blocks=2)
    coordinator = UserFactory(username="cx-coord")
    MembershipFactory(study=study, user=coordinator, role=Role.COORDINATOR)
    dataset = DatasetFactory(study=study)
    for index in range(10):
        case = CaseFactory(dataset=dataset, study=study)
        if index:  # one case lacks its gold standard: no stratification
            GoldStandardFactory(case=case, conditions=["pvl"] if index % 2 else ["normal"])
    for index in range(4):
        MembershipFactory(
            study=study, user=UserFactory(username=f"cx-r{index}"), role=Role.READER, tier="junior"
        )
    made = crossover_allocation_generate(actor=coordinator, study=study)
    content = json.loads(made.document)
    assert content["parameters"]["stratified"] is False
    assert {e["stratum"] for e in content["cases"]} == {""}
    assert made.commitment == hashlib.sha256(made.document.encode()).hexdigest()
    assert made.crossover_readers.count() == 4 and made.crossover_cases.count() == 10
    audit = AuditEvent.objects.get(action="allocation.committed", target_id=str(study.pk))
    assert audit.after["commitment"] == made.commitment and "nonce" not in json.dumps(audit.after)
    with pytest.raises(ValidationError):
        crossover_allocation_generate(actor=coordinator, study=study)
    with pytest.raises(PermissionDenied):
        allocation_disclose(study=study)
    study.allocation_commitment = made.commitment
    study.status = StudyStatus.UNBLINDED
    study.save()
    assert allocation_disclose(study=study).verified
    tampered = content | {"readers": content["readers"][::-1][:3] + content["readers"][3:]}
    AllocationList.objects.filter(pk=made.pk).update(
        document=json.dumps(tampered, sort_keys=True, separators=(",", ":"))
    )
    disclosure = allocation_disclose(study=study)
    assert not disclosure.hash_matches and not disclosure.verified


@pytest.mark.django_db
def test_other_designs_and_single_blocks_are_refused():
    for design, blocks in (
        (StudyDesign.ASSISTED_CROSSOVER, 2),
        (StudyDesign.COUNTERBALANCED_CROSSOVER, 1),
    ):
        study = StudyFactory(design=design, crossover_blocks=blocks)
        with pytest.raises(ValidationError):
            crossover_allocation_generate(actor=None, study=study)
