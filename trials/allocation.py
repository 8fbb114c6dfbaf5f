"""Concealed randomization for the blinded source trial (pure: no Django).

- Juniors are randomized evenly into K groups, one per senior.
- For each (senior, case), the material's source (AI or a junior of the senior's group)
  is allocated by permuted blocks of random size, stratified by dataset and one chosen
  case variable; seeded and reproducible.
- The seed is drawn from a secure random source (:func:`new_seed`), never typed by a
  person, so nobody can compute the allocation before it is disclosed.
- The allocation list, its seed, parameters and a secret nonce (:func:`new_nonce`) are
  committed to by SHA-256 when the study opens. The nonce keeps the commitment from being
  brute-forced by someone who knows the case ids (the allocation space is small). After
  unblinding anyone can recompute the hash (:func:`verify_commitment`).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

AI = "ai"
JUNIOR = "junior"
ALGORITHM = "permuted-blocks-v1"
#: Bits of the seed (fits a signed 64-bit database column) and bytes of the nonce.
SEED_BITS = 62
NONCE_BYTES = 32
_NONCE = re.compile(rf"[0-9a-f]{{{2 * NONCE_BYTES}}}")


def new_seed() -> int:
    """A seed from the operating system's secure random source."""
    return secrets.randbits(SEED_BITS)


def new_nonce() -> str:
    """A secret nonce (hex) that salts the committed document."""
    return secrets.token_hex(NONCE_BYTES)


@dataclass(frozen=True)
class AllocationParameters:
    """What the allocation depends on besides the case list."""

    seed: int
    block_sizes: tuple[int, ...] = (2, 4, 6)
    stratify_by: str = "dataset"  # plus the dataset always; e.g. "probe_type" or "ga_group"

    def __post_init__(self) -> None:
        if not self.block_sizes or any(b <= 0 or b % 2 for b in self.block_sizes):
            raise ValueError(
                f"block sizes must be positive and even (two arms), got {self.block_sizes}"
            )


@dataclass(frozen=True)
class CaseStratum:
    """A case and the stratum it is randomized in."""

    case_id: str
    dataset: str
    variable: str = ""


@dataclass(frozen=True)
class AllocationEntry:
    """Who prepared the material one senior sees for one case."""

    senior: str
    case_id: str
    source: str  # "ai" or "junior"
    junior: str  # the junior whose material is shown ("" for AI)
    stratum: str
    block: int


def randomize_groups(
    juniors: Sequence[str], seniors: Sequence[str], *, seed: int
) -> dict[str, list[str]]:
    """Randomize juniors evenly into one group per senior (sizes differ by at most one)."""
    if not seniors:
        raise ValueError("at least one senior is needed")
    if len(juniors) < len(seniors):
        raise ValueError(f"{len(juniors)} juniors cannot fill {len(seniors)} groups")
    if len(set(juniors)) != len(juniors) or len(set(seniors)) != len(seniors):
        raise ValueError("juniors and seniors must be distinct")
    rng = np.random.default_rng([seed, 1])
    shuffled = [juniors[i] for i in rng.permutation(len(juniors))]
    ordered_seniors = sorted(seniors)
    groups: dict[str, list[str]] = {s: [] for s in ordered_seniors}
    for index, junior in enumerate(shuffled):
        groups[ordered_seniors[index % len(ordered_seniors)]].append(junior)
    return {s: sorted(g) for s, g in groups.items()}


def allocate(
    cases: Sequence[CaseStratum],
    groups: dict[str, list[str]],
    parameters: AllocationParameters,
) -> list[AllocationEntry]:
    """Allocate each (senior, case) to AI or a junior of the senior's group.

    Within each senior and stratum, sources come in permuted blocks whose size is drawn
    from ``parameters.block_sizes``, each block half AI, half junior; the junior of a
    junior-sourced case is drawn uniformly from the group. Deterministic in the seed.
    """
    if not cases:
        raise ValueError("no cases to allocate")
    if len({c.case_id for c in cases}) != len(cases):
        raise ValueError("case ids must be unique")
    entries: list[AllocationEntry] = []
    for senior_index, senior in enumerate(sorted(groups)):
        juniors = groups[senior]
        if not juniors:
            raise ValueError(f"senior {senior} has no juniors in his group")
        strata: dict[str, list[CaseStratum]] = defaultdict(list)
        for case in sorted(cases, key=lambda c: c.case_id):
            strata[f"{case.dataset}|{case.variable}"].append(case)
        for stratum_index, stratum in enumerate(sorted(strata)):
            rng = np.random.default_rng([parameters.seed, 2, senior_index, stratum_index])
            members = strata[stratum]
            order = [members[i] for i in rng.permutation(len(members))]
            sources: list[tuple[str, int]] = []
            block = 0
            while len(sources) < len(order):
                size = int(rng.choice(parameters.block_sizes))
                arms = [AI] * (size // 2) + [JUNIOR] * (size // 2)
                sources.extend((arms[i], block) for i in rng.permutation(size))
                block += 1
            for case, (source, block_number) in zip(order, sources, strict=False):
                junior = juniors[int(rng.integers(len(juniors)))] if source == JUNIOR else ""
                entries.append(
                    AllocationEntry(senior, case.case_id, source, junior, stratum, block_number)
                )
    return entries


def _check_nonce(nonce: str) -> None:
    """Refuse a malformed nonce; the value is secret, so name its length, never the value."""
    if not _NONCE.fullmatch(nonce):
        raise ValueError(
            f"the nonce must be {2 * NONCE_BYTES} lowercase hex digits, got {len(nonce)} characters"
        )


def canonical_document(
    entries: Sequence[AllocationEntry],
    groups: dict[str, list[str]],
    parameters: AllocationParameters,
    *,
    nonce: str,
) -> str:
    """The exact text committed to: parameters, groups, the sorted allocation list and the nonce."""
    _check_nonce(nonce)
    document = {
        "algorithm": ALGORITHM,
        "nonce": nonce,
        "parameters": {**asdict(parameters), "block_sizes": list(parameters.block_sizes)},
        "groups": {s: sorted(g) for s, g in sorted(groups.items())},
        "allocation": [asdict(e) for e in sorted(entries, key=lambda e: (e.senior, e.case_id))],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def commitment(
    entries: Sequence[AllocationEntry],
    groups: dict[str, list[str]],
    parameters: AllocationParameters,
    *,
    nonce: str,
) -> str:
    """SHA-256 of the canonical document."""
    return hashlib.sha256(
        canonical_document(entries, groups, parameters, nonce=nonce).encode()
    ).hexdigest()


def verify_commitment(document: str, expected: str) -> bool:
    """Whether a disclosed allocation document hashes to the commitment shown at opening."""
    return hashlib.sha256(document.encode()).hexdigest() == expected


# ------------------------------------------------------- counterbalanced crossover

CROSSOVER_ALGORITHM = "counterbalanced-blocks-v1"
AI_FIRST = "ai_first"
UNAIDED_FIRST = "unaided_first"


@dataclass(frozen=True)
class CrossoverParameters:
    """What a counterbalanced crossover allocation depends on besides readers and cases."""

    seed: int
    blocks: int
    stratified: bool  # cases stratified by severe / non-severe (gold standard known)

    def __post_init__(self) -> None:
        if self.blocks < 1:
            raise ValueError(f"the number of blocks must be at least 1, got {self.blocks}")


@dataclass(frozen=True)
class CrossoverReaderEntry:
    """A reader's block and the order of his two sessions."""

    reader: str
    block: int
    sequence: str  # "ai_first" or "unaided_first"


@dataclass(frozen=True)
class CrossoverCaseEntry:
    """A case's block (and the stratum it was dealt in: "severe", "non-severe" or "")."""

    case_id: str
    block: int
    stratum: str


def allocate_crossover(
    readers: Sequence[str],
    cases: Sequence[tuple[str, str]],
    parameters: CrossoverParameters,
) -> tuple[list[CrossoverReaderEntry], list[CrossoverCaseEntry]]:
    """Split readers and cases into blocks and give each reader a sequence.

    - Readers are shuffled and dealt in turn into the blocks (sizes differ by at most
      one). Within a block, shuffled again: the first half read with the AI first, the
      second half unaided first. With an odd number of readers in a block the two
      sequences differ by one reader; which sequence gets him is drawn at random.
    - Cases (``(case_id, stratum)``) are shuffled within each stratum and dealt in turn
      into the blocks, the turn running on from one stratum to the next, so every
      block's count differs by at most one overall and per stratum.

    Every block needs two readers (one per sequence) and one case at least. Deterministic
    in the seed.
    """
    blocks = parameters.blocks
    if len(set(readers)) != len(readers):
        raise ValueError("readers must be distinct")
    if len({c for c, _ in cases}) != len(cases):
        raise ValueError("case ids must be unique")
    if len(readers) < 2 * blocks:
        raise ValueError(
            f"{len(readers)} readers cannot fill {blocks} blocks with both sequences "
            f"(at least {2 * blocks} are needed)"
        )
    if len(cases) < blocks:
        raise ValueError(f"{len(cases)} cases cannot fill {blocks} blocks")
    rng = np.random.default_rng([parameters.seed, 3])
    ordered = sorted(readers)
    shuffled = [ordered[i] for i in rng.permutation(len(ordered))]
    members: list[list[str]] = [[] for _ in range(blocks)]
    for index, reader in enumerate(shuffled):
        members[index % blocks].append(reader)
    reader_entries: list[CrossoverReaderEntry] = []
    for block, group in enumerate(members):
        order = [group[i] for i in rng.permutation(len(group))]
        first_half = len(order) // 2 + (int(rng.integers(2)) if len(order) % 2 else 0)
        for position, reader in enumerate(order):
            sequence = AI_FIRST if position < first_half else UNAIDED_FIRST
            reader_entries.append(CrossoverReaderEntry(reader, block, sequence))
    strata: dict[str, list[str]] = defaultdict(list)
    for case_id, stratum in sorted(cases):
        strata[stratum].append(case_id)
    case_entries: list[CrossoverCaseEntry] = []
    turn = int(rng.integers(blocks))
    for stratum in sorted(strata):
        ids = strata[stratum]
        for i in rng.permutation(len(ids)):
            case_entries.append(CrossoverCaseEntry(ids[i], turn % blocks, stratum))
            turn += 1
    return (
        sorted(reader_entries, key=lambda e: e.reader),
        sorted(case_entries, key=lambda e: e.case_id),
    )


def crossover_document(
    readers: Sequence[CrossoverReaderEntry],
    cases: Sequence[CrossoverCaseEntry],
    parameters: CrossoverParameters,
    *,
    nonce: str,
) -> str:
    """The exact text committed to: algorithm, parameters, readers, cases and the nonce."""
    _check_nonce(nonce)
    document = {
        "algorithm": CROSSOVER_ALGORITHM,
        "nonce": nonce,
        "parameters": asdict(parameters),
        "readers": [asdict(e) for e in sorted(readers, key=lambda e: e.reader)],
        "cases": [asdict(e) for e in sorted(cases, key=lambda e: e.case_id)],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def crossover_recompute(document: str) -> str | None:
    """The document the committed inputs give when allocated again (None if they cannot be)."""
    try:
        content = json.loads(document)
        parameters = CrossoverParameters(**content["parameters"])
        readers = [e["reader"] for e in content["readers"]]
        cases = [(e["case_id"], e["stratum"]) for e in content["cases"]]
        reader_entries, case_entries = allocate_crossover(readers, cases, parameters)
        return crossover_document(
            reader_entries, case_entries, parameters, nonce=str(content["nonce"])
        )
    except (ValueError, KeyError, TypeError):
        return None
