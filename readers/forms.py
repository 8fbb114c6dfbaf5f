"""HTML forms of the reading workstation and the coordinator pages."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from core.labels import Condition
from readers.models import ReaderTier
from readers.services import ReadAnswer
from readers.tool_use import tool_use_clean
from trials.forms import StudyMemberForm
from trials.models import Dataset, Role, Study

CONDITION_LABELS = {
    Condition.NORMAL: _("Normal"),
    Condition.IVH: _("Intraventricular haemorrhage (IVH)"),
    Condition.EPENDYMAL_CYST: _("Ependymal cyst"),
    Condition.VENTRICULAR_DILATION: _("Ventricular dilation"),
    Condition.HYDROCEPHALUS: _("Hydrocephalus"),
    Condition.PVL: _("Periventricular leukomalacia (PVL)"),
}


class ToolUseForm(forms.Form):
    """A hidden field the workstation fills with its tool counts (JSON) before submitting."""

    tool_use = forms.CharField(
        widget=forms.HiddenInput(attrs={"data-tool-use": ""}), required=False, max_length=1000
    )

    def clean_tool_use(self) -> dict[str, int]:
        return tool_use_clean(self.cleaned_data.get("tool_use"))


class AnswerForm(ToolUseForm):
    """The diagnosis form: severe yes/no, confidence, findings, comment (and tool counts)."""

    severe = forms.TypedChoiceField(
        label=_("Severe"),
        choices=[("yes", _("Yes (Y)")), ("no", _("No (N)"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    confidence = forms.IntegerField(
        label=_("Confidence that it is severe (0–100, C)"), min_value=0, max_value=100
    )
    #: Kept only where the study collects ratings (:func:`rating_field_apply`), then required.
    rating = forms.IntegerField(
        label=_("Probability that it is severe (0–100)"),
        min_value=0,
        max_value=100,
        required=False,
        help_text=_("Your own estimate; it need not agree with your yes/no answer."),
        widget=forms.NumberInput(attrs={"data-rating": ""}),
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
    comment = forms.CharField(
        label=_("Comment"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=2000,
    )
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
            rating=data.get("rating"),
        )


FormT = TypeVar("FormT", bound=forms.Form)


def rating_field_apply(form: FormT, *, collects_rating: bool) -> FormT:
    """Require the rating field where the study collects ratings; drop it where it does not.

    The study's setting alone decides (never the case or its material's source), so a
    blinded reader's form is the same for AI and junior material.
    """
    if "rating" in form.fields:
        if collects_rating:
            form.fields["rating"].required = True
        else:
            del form.fields["rating"]
    return form


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
    if isinstance(draft.get("rating"), int) and not isinstance(draft["rating"], bool):
        initial["rating"] = draft["rating"]
    if isinstance(draft.get("conditions"), list):
        initial["conditions"] = [str(c) for c in draft["conditions"]]
    if draft.get("ivh_grade") in (1, 2, 3, 4):
        initial["ivh_grade"] = str(draft["ivh_grade"])
    if isinstance(draft.get("comment"), str):
        initial["comment"] = draft["comment"]
    return initial


class EnrolForm(StudyMemberForm):
    """Enrol an existing user as a reader of the study.

    An unknown username is not an error (enrolment must not tell which usernames
    exist); ``cleaned_data["user"]`` is then None. A user who coordinates or analyses
    the study is refused: he may not read in it.
    """

    tier = forms.ChoiceField(label=_("Tier"), choices=ReaderTier.choices)
    years_experience = forms.IntegerField(
        label=_("Years of CUS experience"), min_value=0, max_value=60, initial=0
    )

    def member_role(self, cleaned: dict[str, Any]) -> str | None:
        return Role.READER


class SessionCreateForm(forms.Form):
    """Create the reading sessions of the study's design."""

    datasets = forms.ModelMultipleChoiceField(
        label=_("Datasets"), queryset=Dataset.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    seed = forms.IntegerField(label=_("Seed (empty: random)"), required=False, min_value=0)

    def __init__(self, *args: Any, study: Study, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The field declared above; ``fields`` is typed as a mapping of plain Fields.
        cast(
            forms.ModelMultipleChoiceField, self.fields["datasets"]
        ).queryset = study.datasets.all()


# ----------------------------------------------------------------- source trial forms

BOOLEAN_CHOICES = [("yes", _("Yes")), ("no", _("No"))]


def _yes(value: str) -> bool:
    return value == "yes"


class PrepareForm(forms.Form):
    """A junior's material for one case: a frame (1-based) or "not obtainable" per view,
    and the initial diagnosis; for a view that more than one sweep shows (``sweep_options``:
    view -> its sweeps, e.g. MSV of left and right sagittal sweeps), the frame's sweep."""

    initial_severe = forms.TypedChoiceField(
        label=_("Initial diagnosis: severe"),
        choices=BOOLEAN_CHOICES,
        coerce=_yes,
        widget=forms.RadioSelect,
    )
    client_event_id = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def __init__(
        self,
        *args: Any,
        views: list[tuple[str, int]],
        sweep_options: dict[str, tuple[str, ...]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.views = views
        self.sweep_options = {v: o for v, o in (sweep_options or {}).items() if len(o) > 1}
        for view, frame_count in views:
            self.fields[f"frame_{view}"] = forms.IntegerField(
                label=_("%(view)s frame") % {"view": view},
                min_value=1,
                max_value=max(frame_count, 1),
                required=False,
                widget=forms.NumberInput(attrs={"data-view": view}),
            )
            self.fields[f"missing_{view}"] = forms.BooleanField(
                label=_("%(view)s not obtainable") % {"view": view}, required=False
            )
            if view in self.sweep_options:
                self.fields[f"sweep_{view}"] = forms.ChoiceField(
                    label=_("%(view)s sweep") % {"view": view},
                    required=False,
                    choices=[("", "—"), *((o, o) for o in self.sweep_options[view])],
                    widget=forms.Select(attrs={"data-sweep-of": view}),
                )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for view, _count in self.views:
            frame, missing = data.get(f"frame_{view}"), data.get(f"missing_{view}")
            if frame is None and not missing:
                self.add_error(f"frame_{view}", _("Pick a frame or mark the view not obtainable."))
            if frame is not None and missing:
                self.add_error(f"missing_{view}", _("A view with a frame is obtainable."))
            if frame is not None and view in self.sweep_options and not data.get(f"sweep_{view}"):
                self.add_error(f"sweep_{view}", _("Say which sweep this frame is from."))
        return data

    def picks(self) -> dict[str, int | None]:
        """View -> 0-based frame index or None (call after ``is_valid``)."""
        data = self.cleaned_data
        return {
            view: None if data.get(f"missing_{view}") else int(data[f"frame_{view}"]) - 1
            for view, _count in self.views
        }

    def sweeps(self) -> dict[str, str]:
        """View -> its frame's sweep, for the views more than one sweep shows."""
        data = self.cleaned_data
        return {
            view: data[f"sweep_{view}"]
            for view in self.sweep_options
            if data.get(f"sweep_{view}") and not data.get(f"missing_{view}")
        }


class GuessForm(forms.Form):
    """The senior's source guess, saved and locked before the diagnosis form opens."""

    guess = forms.ChoiceField(
        label=_("Where does this material come from?"),
        choices=[
            ("ai", _("AI")),
            ("junior", _("Junior radiologist")),
            ("dont_know", _("Don't know")),
        ],
        widget=forms.RadioSelect,
    )
    client_event_id = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


class ReviewForm(AnswerForm):
    """The secondary diagnosis and whether it changes the initial one."""

    changes_initial = forms.TypedChoiceField(
        label=_("Does your diagnosis change the initial diagnosis?"),
        choices=BOOLEAN_CHOICES,
        coerce=_yes,
        widget=forms.RadioSelect,
    )

    def answer(self) -> ReadAnswer:
        answer = super().answer()
        return ReadAnswer(
            severe=answer.severe,
            confidence=answer.confidence,
            conditions=answer.conditions,
            ivh_grade=answer.ivh_grade,
            comment=answer.comment,
            rating=answer.rating,
            extra={"changes_initial": self.cleaned_data["changes_initial"]},
        )


class QualitativeForm(ToolUseForm):
    """Scores 1–5 of the AI's extracted views on the paper's four criteria."""

    client_event_id = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from readers.source_trial import QUALITATIVE_CRITERIA

        super().__init__(*args, **kwargs)
        for criterion, label in QUALITATIVE_CRITERIA.items():
            self.fields[criterion] = forms.TypedChoiceField(
                label=label,
                choices=[(str(i), str(i)) for i in range(1, 6)],
                coerce=int,
                widget=forms.RadioSelect,
            )

    def answer(self) -> ReadAnswer:
        """Scores only: a qualitative rating asks no diagnosis (stored as not severe, 0)."""
        from readers.source_trial import QUALITATIVE_CRITERIA

        return ReadAnswer(
            severe=False,
            confidence=0,
            extra={"scores": {c: self.cleaned_data[c] for c in QUALITATIVE_CRITERIA}},
        )


class ReviewReviseForm(ReviewForm):
    """A changed secondary diagnosis and the reason (the locked source guess is kept)."""

    reason = forms.CharField(label=_("Reason for the change"), max_length=500)


class QualitativeReviseForm(QualitativeForm):
    """Changed scores and the reason for the change."""

    reason = forms.CharField(label=_("Reason for the change"), max_length=500)


def revise_initial(read: Any) -> dict[str, Any]:
    """Initial values of a revise form: the read as submitted, phase fields included."""
    initial: dict[str, Any] = {
        "severe": "yes" if read.severe else "no",
        "confidence": read.confidence,
        "rating": read.rating,
        "conditions": read.conditions,
        "ivh_grade": read.ivh_grade,
        "comment": read.comment,
    }
    answer = read.answer or {}
    if isinstance(answer.get("changes_initial"), bool):
        initial["changes_initial"] = "yes" if answer["changes_initial"] else "no"
    if isinstance(answer.get("scores"), dict):
        initial |= {criterion: str(score) for criterion, score in answer["scores"].items()}
    return initial


class AllocationForm(forms.Form):
    """Randomize juniors into groups, allocate each senior's cases (the server draws the seed)."""

    stratify_by = forms.ChoiceField(
        label=_("Stratify by (besides the dataset)"),
        choices=[
            ("none", _("Nothing else")),
            ("probe_type", _("Probe type")),
            ("ga_group", _("Gestational age group")),
            ("manufacturer", _("Manufacturer")),
        ],
    )
    block_sizes = forms.CharField(
        label=_("Block sizes (comma-separated, even)"), initial="2,4,6", max_length=40
    )

    def clean_block_sizes(self) -> tuple[int, ...]:
        try:
            sizes = tuple(
                int(part) for part in self.cleaned_data["block_sizes"].split(",") if part.strip()
            )
        except ValueError as exc:
            raise forms.ValidationError(_("Block sizes are whole numbers.")) from exc
        if not sizes or any(size < 2 or size % 2 for size in sizes):
            raise forms.ValidationError(_("Block sizes are even numbers of at least 2."))
        return sizes


class MaterialImportForm(forms.Form):
    """A ZIP of manifest.csv and view images, prepared outside the platform."""

    archive = forms.FileField(label=_("ZIP with manifest.csv and the images it names"))
    source = forms.ChoiceField(
        label=_("Source"),
        choices=[("junior", _("Junior radiologist")), ("sonographer", _("Sonographer"))],
    )
    dry_run = forms.BooleanField(
        label=_("Dry run (check only, write nothing)"), required=False, initial=True
    )
    reason = forms.CharField(
        label=_("Reason (needed while the study is open: an import amends its material)"),
        max_length=500,
        required=False,
    )
