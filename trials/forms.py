"""HTML forms of the coordinator pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from core.labels import Condition
from trials.models import DatasetKind, Role, Study, StudyDesign, StudyStatus, VolpeGrade
from trials.selectors import active_user_by_username, membership_conflict
from trials.signatures import SignatureMeaning


class StudyForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    registry_id = forms.CharField(label=_("Registry id"), max_length=64, required=False)
    design = forms.ChoiceField(label=_("Design"), choices=StudyDesign.choices)
    washout_days = forms.IntegerField(
        label=_("Washout (days)"), min_value=0, max_value=365, initial=28
    )
    allow_revisits = forms.BooleanField(label=_("Readers may revisit a case"), required=False)
    cine_fps = forms.IntegerField(
        label=_("Cine frame rate"), min_value=1, max_value=120, initial=25
    )
    collects_rating = forms.BooleanField(
        label=_("Readers also give a probability-of-severe rating (0–100)"), required=False
    )
    crossover_blocks = forms.IntegerField(
        label=_("Blocks of readers and cases (counterbalanced crossover)"),
        min_value=2,
        max_value=50,
        initial=2,
        required=False,
        help_text=_("Used by the counterbalanced crossover only."),
    )

    def clean_crossover_blocks(self) -> int:
        """Blank (any other design) keeps the default of two blocks."""
        return self.cleaned_data.get("crossover_blocks") or 2


class StudySettingsForm(forms.Form):
    """A draft study's reading settings (the service refuses changes once it is open)."""

    washout_days = forms.IntegerField(label=_("Washout (days)"), min_value=0, max_value=365)
    allow_revisits = forms.BooleanField(label=_("Readers may revisit a case"), required=False)
    cine_fps = forms.IntegerField(label=_("Cine frame rate"), min_value=1, max_value=120)
    collects_rating = forms.BooleanField(
        label=_("Readers also give a probability-of-severe rating (0–100)"), required=False
    )
    crossover_blocks = forms.IntegerField(
        label=_("Blocks of readers and cases (counterbalanced crossover)"),
        min_value=2,
        max_value=50,
        required=False,
    )

    @classmethod
    def of(cls, study: Study) -> StudySettingsForm:
        return cls(initial={name: getattr(study, name) for name in cls.base_fields})


class SignatureFields(forms.Form):
    """An electronic signature: the signer's password again and what his signature means.

    Required where the form always signs; :class:`TransitionForm` needs them only for the
    transitions that are signed (the service refuses those without a signature).
    """

    signature_required = True

    password = forms.CharField(
        label=_("Your password (electronic signature)"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        strip=False,
    )
    meaning = forms.ChoiceField(
        label=_("Meaning of your signature"),
        choices=SignatureMeaning.choices,
        initial=SignatureMeaning.APPROVAL,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.signature_required:
            self.fields["password"].required = False
            self.fields["meaning"].required = False


class TransitionForm(SignatureFields):
    signature_required = False

    to = forms.ChoiceField(choices=StudyStatus.choices, widget=forms.HiddenInput)
    confirm = forms.BooleanField(label=_("I confirm this change; it cannot be undone."))
    reason = forms.CharField(
        label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    field_order = ["to", "confirm", "reason", "password", "meaning"]


class GoldStandardSignOffForm(SignatureFields):
    """Sign the gold standard of a case as it is now."""


class GoldStandardAmendForm(SignatureFields):
    """Correct a gold standard: new values, a reason and a signature."""

    conditions = forms.MultipleChoiceField(
        label=_("Conditions"),
        choices=[(c.value, c.value) for c in Condition],
        widget=forms.CheckboxSelectMultiple,
    )
    ivh_grade = forms.TypedChoiceField(
        label=_("IVH grade (Papile)"),
        choices=[("", "—"), *((str(g), str(g)) for g in range(1, 5))],
        coerce=int,
        empty_value=None,
        required=False,
    )
    volpe_grade = forms.ChoiceField(
        label=_("IVH grade (Volpe)"), choices=[("", "—"), *VolpeGrade.choices], required=False
    )
    reason = forms.CharField(
        label=_("Reason for the correction"), widget=forms.Textarea(attrs={"rows": 2})
    )

    field_order = ["conditions", "ivh_grade", "volpe_grade", "reason", "password", "meaning"]


class ImportForm(forms.Form):
    archive = forms.FileField(label=_("ZIP with manifest.csv and the files it names"))
    dry_run = forms.BooleanField(
        label=_("Dry run (check only, write nothing)"), required=False, initial=True
    )


class SiteForm(forms.Form):
    name = forms.CharField(label=_("Site name"), max_length=200)


class DatasetForm(forms.Form):
    name = forms.CharField(label=_("Dataset name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=DatasetKind.choices)


class StudyMemberForm(forms.Form):
    """Name a user (``username``) for a role in the study (``member_role``).

    An unknown username is not an error (the page must not tell which usernames exist);
    ``cleaned_data["user"]`` is then None. A known user is refused a role that conflicts
    with one he holds in the study (separation of duties: ``membership_conflict``).
    """

    username = forms.CharField(label=_("Username"), max_length=150)

    def __init__(self, *args: Any, study: Study, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.study = study

    def member_role(self, cleaned: dict[str, Any]) -> str | None:
        """The role the user is to take (None when the form has none yet: no check)."""
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        user = active_user_by_username(username=cleaned.get("username", ""))
        role = self.member_role(cleaned)
        if user is not None and role:
            conflict = membership_conflict(study=self.study, user=user, role=role)
            if conflict:
                raise forms.ValidationError(conflict)
        cleaned["user"] = user
        return cleaned


class MemberForm(StudyMemberForm):
    """Give a user a role in the study.

    An unknown username is not an error (the page must not tell which usernames exist);
    ``cleaned_data["user"]`` is then None. A reader may not take a staff role in the same
    study, nor the reverse (separation of duties).
    """

    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)

    def member_role(self, cleaned: dict[str, Any]) -> str | None:
        return cleaned.get("role")
