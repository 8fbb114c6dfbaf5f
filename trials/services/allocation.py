"""Generating, committing, disclosing and verifying a source-blinded study's allocation."""

from __future__ import annotations

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
    Study,
    StudyDesign,
    StudyStatus,
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
        raise ValidationError(_("Generate the allocation before opening a source-blinded study."))
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


def allocation_disclose(*, study: Study) -> AllocationDisclosure:
    """After unblinding only: the document with its seed and nonce, its hash check, its recomputation."""
    if study.status != StudyStatus.UNBLINDED:
        raise PermissionDenied(_("The allocation stays concealed until the study is unblinded."))
    allocation_list = AllocationList.objects.get(study=study)
    document = allocation_list.document
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
