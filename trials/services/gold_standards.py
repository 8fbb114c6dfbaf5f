"""Gold standards after import: signed sign-off and signed, audited amendments.

A gold standard is written by the case import (or ``case_create``) and, after that, only
by :func:`gold_standard_amend`: a reason, the old and new values and the coordinator's
electronic signature, all in the audit chain (``signature.applied`` then
``gold_standard.amended``) and in :class:`~trials.models.GoldStandardAmendment`.
:func:`gold_standard_sign_off` records a signature over the current content; a later
amendment changes the content's hash, so a sign-off shows whether it still matches.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.labels import Condition, is_severe, parse_conditions
from trials.audit import audit_record
from trials.models import (
    AuditAction,
    GoldStandard,
    GoldStandardAmendment,
    StudyStatus,
    VolpeGrade,
)
from trials.signatures import Signature, content_sha256, signature_apply

#: The gold standard's fields an amendment may change (``severe`` follows by the rule).
AMENDABLE_FIELDS: tuple[str, ...] = ("conditions", "ivh_grade", "volpe_grade")
_UNSET: Any = object()


def gold_standard_values(gold: GoldStandard) -> dict[str, Any]:
    """The gold standard's values as the audit and amendments record them."""
    return {
        "conditions": sorted(gold.conditions),
        "ivh_grade": gold.ivh_grade,
        "volpe_grade": gold.volpe_grade,
        "severe": gold.severe,
    }


def gold_standard_signed_content(gold: GoldStandard) -> dict[str, Any]:
    """What a sign-off of a gold standard signs: the case and its reference values."""
    return {
        "object_type": GoldStandard._meta.label_lower,
        "object_id": str(gold.pk),
        "case": str(gold.case_id),
        "code": gold.case.code,
        **gold_standard_values(gold),
    }


def gold_standard_content_sha256(gold: GoldStandard) -> str:
    """The hash a sign-off of ``gold``, as it is now, would carry."""
    return content_sha256(gold_standard_signed_content(gold))


def validate_volpe_grade(conditions: list[str] | frozenset[Any], volpe_grade: str) -> None:
    """A Volpe grade is one of :class:`VolpeGrade` and only for an IVH case."""
    if not volpe_grade:
        return
    if volpe_grade not in VolpeGrade.values:
        raise ValidationError(
            {"volpe_grade": _("must be one of %s or empty") % ", ".join(VolpeGrade.values)}
        )
    if Condition.IVH.value not in {str(getattr(c, "value", c)) for c in conditions}:
        raise ValidationError(
            {"volpe_grade": _("a Volpe grade was given but IVH is not among the conditions")}
        )


def _locked_gold(gold: GoldStandard) -> GoldStandard:
    gold = GoldStandard.objects.select_for_update().select_related("case__study").get(pk=gold.pk)
    if gold.case.study.status == StudyStatus.UNBLINDED:
        raise ValidationError(_("The gold standard is final once the study is unblinded."))
    return gold


@transaction.atomic
def gold_standard_sign_off(*, actor: Any, gold_standard: GoldStandard, signature: Signature) -> str:
    """Sign the gold standard as it is now; returns the signed content's SHA-256."""
    gold = _locked_gold(gold_standard)
    content = gold_standard_signed_content(gold)
    signature_apply(
        signature=signature,
        actor=actor,
        target=gold,
        purpose="gold_standard.sign_off",
        content=content,
    )
    return content_sha256(content)


@transaction.atomic
def gold_standard_amend(
    *,
    actor: Any,
    gold_standard: GoldStandard,
    reason: str,
    signature: Signature,
    conditions: list[str] | None = None,
    ivh_grade: Any = _UNSET,
    volpe_grade: str | None = None,
) -> GoldStandardAmendment:
    """Correct a gold standard: new values, a reason and the signer's electronic signature.

    Fields not given keep their values; ``severe`` is derived again. The old and new
    values, the reason and the signature go into the audit chain and into a
    :class:`GoldStandardAmendment`. Refused once the study is unblinded, without a
    reason, without a change, or with values the rule refuses.
    """
    if not reason.strip():
        raise ValidationError({"reason": _("An amendment needs a reason.")})
    gold = _locked_gold(gold_standard)
    before = gold_standard_values(gold)
    new_conditions = before["conditions"] if conditions is None else list(conditions)
    new_ivh = before["ivh_grade"] if ivh_grade is _UNSET else ivh_grade
    new_volpe = before["volpe_grade"] if volpe_grade is None else volpe_grade
    try:
        condition_set = parse_conditions(new_conditions)
        severe = is_severe(condition_set, new_ivh)
    except ValueError as exc:
        raise ValidationError({"conditions": str(exc)}) from exc
    if not condition_set:
        raise ValidationError(
            {"conditions": _("A gold standard needs at least one condition (or 'normal').")}
        )
    validate_volpe_grade(condition_set, new_volpe)
    after = {
        "conditions": sorted(c.value for c in condition_set),
        "ivh_grade": new_ivh,
        "volpe_grade": new_volpe,
        "severe": severe,
    }
    if after == before:
        raise ValidationError(_("The amendment changes nothing."))
    content = {
        "object_type": GoldStandard._meta.label_lower,
        "object_id": str(gold.pk),
        "case": str(gold.case_id),
        "code": gold.case.code,
        "before": before,
        "after": after,
        "reason": reason,
    }
    event = signature_apply(
        signature=signature,
        actor=actor,
        target=gold,
        purpose="gold_standard.amend",
        content=content,
    )
    gold.conditions = after["conditions"]
    gold.ivh_grade = new_ivh
    gold.volpe_grade = new_volpe
    gold.severe = severe
    gold.full_clean()
    gold.save(update_fields=["conditions", "ivh_grade", "volpe_grade", "severe", "modified"])
    amendment = GoldStandardAmendment.objects.create(
        gold_standard=gold,
        amended_by=actor,
        reason=reason,
        before=before,
        after=after,
        signature_meaning=signature.meaning,
        signature_sha256=event.after["content_sha256"],
        signed_at=event.created,
    )
    audit_record(
        actor=actor,
        action=AuditAction.GOLD_STANDARD_AMENDED,
        target=gold,
        before=before,
        after={
            **after,
            "amendment": str(amendment.pk),
            "signature_event": event.id,
            "signature_sha256": event.after["content_sha256"],
        },
        reason=reason,
    )
    return amendment
