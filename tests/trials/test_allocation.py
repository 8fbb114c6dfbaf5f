"""Concealed allocation: balance, stratification, reproducibility, commitment."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trials.allocation import (
    AllocationParameters,
    CaseStratum,
    allocate,
    canonical_document,
    commitment,
    randomize_groups,
    verify_commitment,
)

JUNIORS = [f"j{i}" for i in range(9)]
SENIORS = ["s1", "s2", "s3"]


def _cases(n: int, datasets: int = 2) -> list[CaseStratum]:
    return [
        CaseStratum(f"c{i:03d}", f"d{i % datasets}", "linear" if i % 3 else "convex")
        for i in range(n)
    ]


def test_groups_are_even_and_reproducible():
    groups = randomize_groups(JUNIORS, SENIORS, seed=7)
    assert sorted(len(g) for g in groups.values()) == [3, 3, 3]
    assert sorted(j for g in groups.values() for j in g) == sorted(JUNIORS)
    assert groups == randomize_groups(JUNIORS, SENIORS, seed=7)
    assert any(randomize_groups(JUNIORS, SENIORS, seed=s) != groups for s in range(8, 20))


def test_groups_refuse_too_few_juniors():
    with pytest.raises(ValueError, match="cannot fill"):
        randomize_groups(["j1"], SENIORS, seed=1)


def test_every_senior_gets_every_case_once_from_his_group():
    groups = randomize_groups(JUNIORS, SENIORS, seed=3)
    entries = allocate(_cases(60), groups, AllocationParameters(seed=3))
    per_senior = Counter(e.senior for e in entries)
    assert per_senior == dict.fromkeys(SENIORS, 60)
    for e in entries:
        if e.source == "junior":
            assert e.junior in groups[e.senior]
        else:
            assert e.junior == ""


@settings(max_examples=30, deadline=None)
@given(n=st.integers(min_value=1, max_value=80), seed=st.integers(min_value=0, max_value=2**31))
def test_blocks_keep_arms_balanced_within_each_stratum(n, seed):
    """Permuted blocks: in every stratum the arms differ by at most half the largest block."""
    groups = randomize_groups(JUNIORS, SENIORS, seed=seed)
    parameters = AllocationParameters(seed=seed, block_sizes=(2, 4))
    entries = allocate(_cases(n, datasets=3), groups, parameters)
    by_stratum: dict[tuple[str, str], Counter] = {}
    for e in entries:
        by_stratum.setdefault((e.senior, e.stratum), Counter())[e.source] += 1
    for counts in by_stratum.values():
        assert abs(counts["ai"] - counts["junior"]) <= 2


def test_allocation_is_reproducible_and_seed_dependent():
    groups = randomize_groups(JUNIORS, SENIORS, seed=1)
    a = allocate(_cases(40), groups, AllocationParameters(seed=11))
    b = allocate(_cases(40), groups, AllocationParameters(seed=11))
    c = allocate(_cases(40), groups, AllocationParameters(seed=12))
    assert a == b
    assert [e.source for e in a] != [e.source for e in c]


def test_commitment_verifies_the_disclosed_list_and_detects_any_change():
    groups = randomize_groups(JUNIORS, SENIORS, seed=5)
    parameters = AllocationParameters(seed=5)
    entries = allocate(_cases(30), groups, parameters)
    nonce = "0f" * 32
    digest = commitment(entries, groups, parameters, nonce=nonce)
    document = canonical_document(entries, groups, parameters, nonce=nonce)
    assert verify_commitment(document, digest)
    flipped = list(entries)
    first = flipped[0]
    flipped[0] = type(first)(
        first.senior,
        first.case_id,
        "ai" if first.source == "junior" else "junior",
        "",
        first.stratum,
        first.block,
    )
    assert not verify_commitment(
        canonical_document(flipped, groups, parameters, nonce=nonce), digest
    )
    assert commitment(entries, groups, AllocationParameters(seed=6), nonce=nonce) != digest


def test_odd_block_sizes_are_refused():
    with pytest.raises(ValueError, match="even"):
        AllocationParameters(seed=1, block_sizes=(3,))


def test_seed_and_nonce_come_from_a_secure_random_source():
    from trials.allocation import new_nonce, new_seed

    seeds = {new_seed() for _ in range(20)}
    nonces = {new_nonce() for _ in range(20)}
    assert len(seeds) == 20 and all(0 <= s < 2**62 for s in seeds)
    assert len(nonces) == 20 and all(len(n) == 64 and int(n, 16) >= 0 for n in nonces)


def test_the_commitment_cannot_be_recomputed_without_the_secret_nonce():
    """Knowing the cases, the groups and even the seed does not give the commitment."""
    groups = randomize_groups(JUNIORS, SENIORS, seed=5)
    parameters = AllocationParameters(seed=5)
    entries = allocate(_cases(30), groups, parameters)
    nonce = "ab" * 32
    document = canonical_document(entries, groups, parameters, nonce=nonce)
    digest = commitment(entries, groups, parameters, nonce=nonce)
    assert verify_commitment(document, digest)
    assert json.loads(document)["nonce"] == nonce
    unsalted = json.loads(document)
    del unsalted["nonce"]
    guess = hashlib.sha256(
        json.dumps(unsalted, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert guess != digest
    assert commitment(entries, groups, parameters, nonce="cd" * 32) != digest


@pytest.mark.parametrize("nonce", ["", "ab" * 8, "zz" * 32])
def test_a_short_or_malformed_nonce_is_refused(nonce):
    groups = randomize_groups(JUNIORS, SENIORS, seed=5)
    parameters = AllocationParameters(seed=5)
    entries = allocate(_cases(4), groups, parameters)
    with pytest.raises(ValueError, match="nonce"):
        canonical_document(entries, groups, parameters, nonce=nonce)
