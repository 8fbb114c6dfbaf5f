"""HTML forms of the reading workstation and the coordinator pages."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from inference.ncls.labels import Condition
from readers.models import ReaderTier
from readers.services import ReadAnswer
from trials.models import Dataset, Study

CONDITION_LABELS = {
    Condition.NORMAL: _("Normal"),
    Condition.IVH: _("Intraventricular haemorrhage (IVH)"),
    Condition.EPENDYMAL_CYST: _("Ependymal cyst"),
    Condition.VENTRICULAR_DILATION: _("Ventricular dilation"),
    Condition.HYDROCEPHALUS: _("Hydrocephalus"),
    Condition.PVL: _("Periventricular leukomalacia (PVL)"),
}


class AnswerForm(forms.Form):
    """The diagnosis form: severe yes/no, confidence, findings, comment."""

    severe = forms.TypedChoiceField(
        label=_("Severe"),
        choices=[("yes", _("Yes (Y)")), ("no", _("No (N)"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    confidence = forms.IntegerField(
        label=_("Confidence that it is severe (0–100, C)"), min_value=0, max_value=100
    )
    conditions = forms.MultipleChoiceField(
        label=_("Findings"),
        choices=[(c.value, CONDITION_LABELS[c]) for c in Condition],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    ivh_grade = forms.TypedChoiceField(
        label=_("IVH grade (Papile)"),
        choices=[("", "—"), ("1", "I"), ("2", "II"), ("3", "III"), ("4", "IV")],
        coerce=int,
        empty_value=None,
        required=False,
    )
    comment = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 2}),
                              required=False, max_length=2000)
    client_event_id = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def answer(self) -> ReadAnswer:
        """The validated answer (call after ``is_valid``)."""
        data = self.cleaned_data
        return ReadAnswer(
            severe=data["severe"],
            confidence=data["confidence"],
            conditions=tuple(data["conditions"]),
            ivh_grade=data["ivh_grade"],
            comment=data["comment"],
        )


class ReviseForm(AnswerForm):
    """A changed answer and the reason for the change."""

    reason = forms.CharField(label=_("Reason for the change"), max_length=500)


def draft_initial(draft: dict[str, Any]) -> dict[str, Any]:
    """Form initial values from a saved draft (unknown keys ignored)."""
    initial: dict[str, Any] = {}
    if draft.get("severe") in (True, False):
        initial["severe"] = "yes" if draft["severe"] else "no"
    if isinstance(draft.get("confidence"), int):
        initial["confidence"] = draft["confidence"]
    if isinstance(draft.get("conditions"), list):
        initial["conditions"] = [str(c) for c in draft["conditions"]]
    if draft.get("ivh_grade") in (1, 2, 3, 4):
        initial["ivh_grade"] = str(draft["ivh_grade"])
    if isinstance(draft.get("comment"), str):
        initial["comment"] = draft["comment"]
    return initial


class EnrolForm(forms.Form):
    """Enrol an existing user as a reader of the study."""

    username = forms.CharField(label=_("Username"), max_length=150)
    tier = forms.ChoiceField(label=_("Tier"), choices=ReaderTier.choices)
    years_experience = forms.IntegerField(label=_("Years of CUS experience"), min_value=0,
                                          max_value=60, initial=0)

    def clean_username(self) -> Any:
        user = get_user_model().objects.filter(username=self.cleaned_data["username"]).first()
        if user is None:
            raise forms.ValidationError(_("No user has this username."))
        return user


class SessionCreateForm(forms.Form):
    """Create the reading sessions of the study's design."""

    datasets = forms.ModelMultipleChoiceField(
        label=_("Datasets"), queryset=Dataset.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    seed = forms.IntegerField(label=_("Seed (empty: random)"), required=False, min_value=0)

    def __init__(self, *args: Any, study: Study, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["datasets"].queryset = study.datasets.all()
