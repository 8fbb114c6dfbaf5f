"""A case with its gold standard: creating one, excluding one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.labels import is_severe, parse_conditions
from trials.audit import audit_record
from trials.models import AuditAction, Case, Dataset, GoldStandard, Study, StudyStatus
from trials.services.gold_standards import validate_volpe_grade

_METADATA_FIELDS = (
    "ga_weeks",
    "ga_days",
    "birth_weight_g",
    "sex",
    "age_at_exam_days",
    "apgar_1min",
    "apgar_5min",
    "probe_type",
    "manufacturer",
    "device_model",
    "transducer_mhz",
)


def require_draft_or_open(study: Study) -> None:
    """Refuse new cases or files unless the study is a draft or open."""
    if study.status not in (StudyStatus.DRAFT, StudyStatus.OPEN):
        raise ValidationError(_("Cases can only be added while the study is a draft or open."))


@transaction.atomic
def case_create(
    *,
    actor: Any,
    dataset: Dataset,
    code: str,
    conditions: Iterable[str],
    ivh_grade: int | None = None,
    volpe_grade: str = "",
    excluded: bool = False,
    exclusion_reason: str = "",
    **metadata: Any,
) -> Case:
    """Create a case with its gold standard; ``severe`` is derived by the rule."""
    require_draft_or_open(dataset.study)
    unknown = set(metadata) - set(_METADATA_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown case fields: %s") % ", ".join(sorted(unknown)))
    try:
        condition_set = parse_conditions(conditions)
        severe = is_severe(condition_set, ivh_grade)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    if not condition_set:
        raise ValidationError(_("A gold standard needs at least one condition (or 'normal')."))
    validate_volpe_grade(condition_set, volpe_grade)
    case = Case(
        study=dataset.study,
        dataset=dataset,
        code=code,
        excluded=excluded,
        exclusion_reason=exclusion_reason,
        **metadata,
    )
    case.full_clean()
    case.save()
    gold = GoldStandard(
        case=case,
        conditions=sorted(c.value for c in condition_set),
        ivh_grade=ivh_grade,
        volpe_grade=volpe_grade,
        severe=severe,
    )
    gold.full_clean()
    gold.save()
    audit_record(
        actor=actor,
        action=AuditAction.CASE_CREATED,
        target=case,
        after={"code": code, "dataset": dataset.name, "severe": severe, "excluded": excluded},
    )
    return case


@transaction.atomic
def case_exclude(*, actor: Any, case: Case, reason: str) -> Case:
    """Exclude a case as unsuitable for diagnosis, with its reason."""
    if not reason.strip():
        raise ValidationError(_("An exclusion needs a reason."))
    case = Case.objects.select_for_update().get(pk=case.pk)
    case.excluded = True
    case.exclusion_reason = reason
    case.save(update_fields=["excluded", "exclusion_reason", "modified"])
    audit_record(actor=actor, action=AuditAction.CASE_EXCLUDED, target=case, reason=reason)
    return case
