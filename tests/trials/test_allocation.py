"""Concealed allocation: balance, stratification, reproducibility, commitment."""

from __future__ import annotations

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
    return [CaseStratum(f"c{i:03d}", f"d{i % datasets}", "linear" if i % 3 else "convex") for i in range(n)]


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
    digest = commitment(entries, groups, parameters)
    document = canonical_document(entries, groups, parameters)
    assert verify_commitment(document, digest)
    flipped = list(entries)
    first = flipped[0]
    flipped[0] = type(first)(first.senior, first.case_id, "ai" if first.source == "junior" else "junior", "", first.stratum, first.block)
    assert not verify_commitment(canonical_document(flipped, groups, parameters), digest)
    assert commitment(entries, groups, AllocationParameters(seed=6)) != digest


def test_odd_block_sizes_are_refused():
    with pytest.raises(ValueError, match="even"):
        AllocationParameters(seed=1, block_sizes=(3,))
