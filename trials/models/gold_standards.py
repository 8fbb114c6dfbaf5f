"""The reference diagnosis of a case and its signed amendments."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.labels import Condition
from trials.models.base import UUIDModel
from trials.models.cases import Case

CONDITION_VALUES = [c.value for c in Condition]


class VolpeGrade(models.TextChoices):
    """Volpe's grading of germinal matrix / intraventricular haemorrhage."""

    # xgettext:no-python-format (a label with a per cent sign; never %-formatted)
    GRADE_I = "I", _("I (germinal matrix, IVH < 10 % of the ventricle)")
    GRADE_II = "II", _("II (IVH 10–50 %)")
    GRADE_III = "III", _("III (IVH > 50 %, usually with dilation)")
    GRADE_III_PVI = "III+PVI", _("III with periventricular haemorrhagic infarction")


class GoldStandard(UUIDModel):
    """The reference diagnosis of a case; ``severe`` is derived by the rule, never typed.

    After import it changes only through an amendment (:class:`GoldStandardAmendment`,
    ``trials.services.gold_standards``): audited, with a reason and an electronic signature.
    """

    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="gold_standard")
    conditions = models.JSONField(_("conditions"), default=list)
    ivh_grade = models.PositiveSmallIntegerField(_("IVH grade (Papile)"), null=True, blank=True)
    volpe_grade = models.CharField(
        _("IVH grade (Volpe)"), max_length=8, blank=True, choices=VolpeGrade.choices
    )
    severe = models.BooleanField(_("severe"), editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(ivh_grade__isnull=True) | (Q(ivh_grade__gte=1) & Q(ivh_grade__lte=4)),
                name="gold_ivh_grade_1_4",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case}: {', '.join(self.conditions)}"


class GoldStandardAmendment(UUIDModel):
    """One signed correction of a gold standard: old and new values, reason, signer.

    The same facts are in the audit chain (``gold_standard.amended`` and the
    ``signature.applied`` row before it); this table is their index for pages and API.
    """

    gold_standard = models.ForeignKey(
        GoldStandard, on_delete=models.PROTECT, related_name="amendments"
    )
    amended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(_("reason"))
    before = models.JSONField()
    after = models.JSONField()
    signature_meaning = models.CharField(max_length=16)
    signature_sha256 = models.CharField(max_length=64)
    signed_at = models.DateTimeField()

    class Meta:
        ordering = ["gold_standard", "created"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="gold_amendment_needs_reason"),
        ]

    def __str__(self) -> str:
        return f"amendment of {self.gold_standard}"
