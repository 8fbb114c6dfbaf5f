"""Generating, committing, disclosing and verifying a source-blinded study's allocation."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from trials import allocation as algorithm
from trials.audit import audit_record
from trials.models import (
    Allocation,
    AllocationList,
    AuditAction,
    Case,
    CrossoverCaseAllocation,
    CrossoverReaderAllocation,
    GoldStandard,
    Membership,
    Role,
    Study,
    StudyDesign,
    StudyStatus,
)

#: Designs whose allocation is committed when the study opens.
ALLOCATED_DESIGNS: tuple[str, ...] = (
    StudyDesign.SOURCE_BLINDED,
    StudyDesign.COUNTERBALANCED_CROSSOVER,
)

#: Case variables a coordinator may stratify by (besides the dataset, always used).
STRATIFY_CHOICES: dict[str, Any] = {
    "none": lambda case: "",
    "probe_type": lambda case: case.probe_type or "unknown",
    "ga_group": lambda case: (
        "unknown"
        if case.ga_weeks is None
        else "<32w"
        if case.ga_weeks < 32
        else "32-36w"
        if case.ga_weeks < 37
        else ">=37w"
    ),
    "manufacturer": lambda case: case.manufacturer or "unknown",
}


@transaction.atomic
def allocation_generate(
    *,
    actor: Any,
    study: Study,
    juniors: Sequence[Any],
    seniors: Sequence[Any],
    stratify_by: str = "none",
    block_sizes: tuple[int, ...] = (2, 4, 6),
) -> AllocationList:
    """Randomize juniors into groups and allocate every (senior, case) to a source.

    Only for a source-blinded study still in draft; an allocation, once made, cannot be
    changed (a second call is refused). The seed and the commitment's nonce are drawn here
    from a secure random source (nobody chooses them, so nobody can compute the allocation)
    and stay in the concealed document until unblinding. The audit trail records only the
    commitment.
    """
    study = Study.objects.select_for_update().get(pk=study.pk)
    if study.design != StudyDesign.SOURCE_BLINDED:
        raise ValidationError(_("Only a source-blinded study has an allocation."))
    if study.status != StudyStatus.DRAFT:
        raise ValidationError(_("The allocation is made before the study opens."))
    if AllocationList.objects.filter(study=study).exists():
        raise ValidationError(_("The allocation has been made and cannot change."))
    if stratify_by not in STRATIFY_CHOICES:
        raise ValidationError(_("Unknown stratification variable: %s") % stratify_by)
    cases = list(study.cases.filter(excluded=False).select_related("dataset"))
    if not cases:
        raise ValidationError(_("The study has no cases to allocate."))
    users = {str(u.pk): u for u in [*juniors, *seniors]}
    seed, nonce = algorithm.new_seed(), algorithm.new_nonce()
    try:
        parameters = algorithm.AllocationParameters(
            seed=seed, block_sizes=tuple(block_sizes), stratify_by=stratify_by
        )
        groups = algorithm.randomize_groups(
            [str(j.pk) for j in juniors], [str(s.pk) for s in seniors], seed=seed
        )
        strata = [
            algorithm.CaseStratum(str(c.pk), str(c.dataset_id), STRATIFY_CHOICES[stratify_by](c))
            for c in cases
        ]
        entries = algorithm.allocate(strata, groups, parameters)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    allocation_list = AllocationList.objects.create(
        study=study,
        seed=seed,
        parameters={"block_sizes": list(block_sizes), "stratify_by": stratify_by},
        groups=groups,
        document=algorithm.canonical_document(entries, groups, parameters, nonce=nonce),
        commitment=algorithm.commitment(entries, groups, parameters, nonce=nonce),
    )
    Allocation.objects.bulk_create(
        Allocation(
            allocation_list=allocation_list,
            senior=users[e.senior],
            case_id=e.case_id,
            source=e.source,
            junior=users[e.junior] if e.junior else None,
            stratum=e.stratum,
            block=e.block,
        )
        for e in entries
    )
    audit_record(
        actor=actor,
        action=AuditAction.ALLOCATION_COMMITTED,
        target=study,
        after={
            "commitment": allocation_list.commitment,
            "entries": len(entries),
            "groups": len(groups),
        },
    )
    return allocation_list


def allocation_commit_on_open(*, actor: Any, study: Study) -> None:
    """Called when a source-blinded study opens: show the commitment (audited)."""
    allocation_list = AllocationList.objects.filter(study=study).first()
    if allocation_list is None:
        raise ValidationError(_("Generate the allocation before opening the study."))
    study.allocation_commitment = allocation_list.commitment
    study.save(update_fields=["allocation_commitment", "modified"])
    audit_record(
        actor=actor,
        action=AuditAction.ALLOCATION_COMMITTED,
        target=study,
        after={"commitment": allocation_list.commitment, "shown_at": "open"},
    )


@dataclass(frozen=True)
class AllocationDisclosure:
    """The disclosed allocation and whether it verifies against the commitment."""

    document: str
    commitment: str
    seed: int
    nonce: str
    hash_matches: bool
    reproducible: bool

    @property
    def verified(self) -> bool:
        return self.hash_matches and self.reproducible

    def as_dict(self) -> dict[str, Any]:
        """What the coordinator's API and pages show of it (the commitment stands apart)."""
        return {
            "document": self.document,
            "seed": self.seed,
            "nonce": self.nonce,
            "hash_matches": self.hash_matches,
            "reproducible": self.reproducible,
            "verified": self.verified,
        }


def allocation_disclose(*, study: Study) -> AllocationDisclosure:
    """After unblinding only: the document (seed, nonce), its hash check and its recomputation."""
    if study.status != StudyStatus.UNBLINDED:
        raise PermissionDenied(_("The allocation stays concealed until the study is unblinded."))
    allocation_list = AllocationList.objects.get(study=study)
    document = allocation_list.document
    if study.design == StudyDesign.COUNTERBALANCED_CROSSOVER:
        content = json.loads(document)
        return AllocationDisclosure(
            document=document,
            commitment=study.allocation_commitment,
            seed=int(content["parameters"]["seed"]),
            nonce=str(content.get("nonce", "")),
            hash_matches=algorithm.verify_commitment(document, study.allocation_commitment),
            reproducible=algorithm.crossover_recompute(document) == document,
        )
    content = json.loads(document)
    parameters = algorithm.AllocationParameters(
        seed=content["parameters"]["seed"],
        block_sizes=tuple(content["parameters"]["block_sizes"]),
        stratify_by=content["parameters"]["stratify_by"],
    )
    cases = {
        str(c.pk): c
        for c in Case.objects.filter(pk__in={e["case_id"] for e in content["allocation"]})
    }
    strata = [
        algorithm.CaseStratum(pk, str(c.dataset_id), STRATIFY_CHOICES[parameters.stratify_by](c))
        for pk, c in cases.items()
    ]
    nonce = str(content.get("nonce", ""))
    try:
        recomputed = algorithm.canonical_document(
            algorithm.allocate(strata, content["groups"], parameters),
            content["groups"],
            parameters,
            nonce=nonce,
        )
    except ValueError:  # a document altered so that it no longer recomputes at all
        recomputed = None
    return AllocationDisclosure(
        document=document,
        commitment=study.allocation_commitment,
        seed=parameters.seed,
        nonce=nonce,
        hash_matches=algorithm.verify_commitment(document, study.allocation_commitment),
        reproducible=recomputed == document,
    )


@transaction.atomic
def crossover_allocation_generate(
    *, actor: Any, study: Study, readers: Sequence[Any] | None = None
) -> AllocationList:
    """Split a counterbalanced crossover study's readers and cases into blocks, with sequences.

    ``study.crossover_blocks`` blocks; the cases are stratified by severe / non-severe when
    every one has a gold standard, else dealt plainly; within each block half the readers
    read with the AI first, half unaided first (:func:`trials.allocation.allocate_crossover`).
    ``readers``: the study's enrolled readers when None. Draft only, once; the seed and
    nonce are drawn here, the document is committed by SHA-256 like the source trial's and
    the audit trail records only the commitment.
    """
    study = Study.objects.select_for_update().get(pk=study.pk)
    if study.design != StudyDesign.COUNTERBALANCED_CROSSOVER:
        raise ValidationError(_("Only a counterbalanced crossover study has this allocation."))
    if study.status != StudyStatus.DRAFT:
        raise ValidationError(_("The allocation is made before the study opens."))
    if AllocationList.objects.filter(study=study).exists():
        raise ValidationError(_("The allocation has been made and cannot change."))
    if study.crossover_blocks < 2:
        raise ValidationError(_("A counterbalanced crossover needs at least two blocks."))
    if readers is None:
        members = Membership.objects.active().filter(study=study, role=Role.READER)
        readers = [m.user for m in members.select_related("user")]
    cases = list(study.cases.filter(excluded=False))
    if not cases:
        raise ValidationError(_("The study has no cases to allocate."))
    severe = dict(GoldStandard.objects.filter(case__in=cases).values_list("case_id", "severe"))
    stratified = len(severe) == len(cases)
    strata = [
        (str(c.pk), ("severe" if severe[c.pk] else "non-severe") if stratified else "")
        for c in cases
    ]
    users = {str(u.pk): u for u in readers}
    seed, nonce = algorithm.new_seed(), algorithm.new_nonce()
    parameters = algorithm.CrossoverParameters(
        seed=seed, blocks=study.crossover_blocks, stratified=stratified
    )
    try:
        reader_entries, case_entries = algorithm.allocate_crossover(list(users), strata, parameters)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    document = algorithm.crossover_document(reader_entries, case_entries, parameters, nonce=nonce)
    blocks: dict[str, list[str]] = {}
    for entry in reader_entries:
        blocks.setdefault(str(entry.block), []).append(entry.reader)
    allocation_list = AllocationList.objects.create(
        study=study,
        seed=seed,
        parameters={"blocks": parameters.blocks, "stratified": stratified},
        groups=blocks,
        document=document,
        commitment=hashlib.sha256(document.encode()).hexdigest(),
    )
    CrossoverReaderAllocation.objects.bulk_create(
        CrossoverReaderAllocation(
            allocation_list=allocation_list,
            reader=users[e.reader],
            block=e.block,
            sequence=e.sequence,
        )
        for e in reader_entries
    )
    CrossoverCaseAllocation.objects.bulk_create(
        CrossoverCaseAllocation(
            allocation_list=allocation_list, case_id=e.case_id, block=e.block, stratum=e.stratum
        )
        for e in case_entries
    )
    audit_record(
        actor=actor,
        action=AuditAction.ALLOCATION_COMMITTED,
        target=study,
        after={
            "commitment": allocation_list.commitment,
            "blocks": parameters.blocks,
            "readers": len(reader_entries),
            "cases": len(case_entries),
        },
    )
    return allocation_list
