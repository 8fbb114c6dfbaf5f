"""API shapes of the readers app. Reader-facing ones expose only what blinding allows:
opaque tokens and slot names, the reader's own answers, and the AI's material only in a
phase that shows it."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Field
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.labels import Condition
from readers.models import Assignment, Read, ReaderTier, SessionPhase, SourceGuess
from readers.phases import phase_rules
from readers.selectors import SessionSummary, assignment_material, assignment_slots
from readers.services import ReadAnswer
from readers.tool_use import TOOL_COUNT_MAX, tool_use_clean


class SessionSummarySerializer(serializers.Serializer):
    """A session on the reader's worklist."""

    id = serializers.UUIDField(source="session.pk")
    study_title = serializers.CharField(source="session.study.title")
    phase = serializers.CharField(source="session.phase")
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    is_open = serializers.BooleanField()
    opens_at = serializers.DateTimeField(allow_null=True)
    closed_reason = serializers.CharField(source="opening.reason")
    next_token = serializers.CharField(allow_null=True)
    completed_at = serializers.DateTimeField(source="session.completed_at", allow_null=True)


def summary_data(summary: SessionSummary) -> dict[str, Any]:
    """Serialized worklist row."""
    return dict(SessionSummarySerializer(summary).data)


def _model_label(field: str) -> Any:
    model_field = Read._meta.get_field(field)
    assert isinstance(model_field, Field)  # a concrete field of Read, not a reverse relation
    return capfirst(model_field.verbose_name)  # as a ModelSerializer labels it


# Fields declared one by one rather than a ModelSerializer: this answers every submission,
# and building the fields from the model on each response cost more than the rest of it.
class ReadSerializer(serializers.Serializer):
    """The reader's own read of one assignment."""

    token = serializers.CharField(source="assignment.token")
    client_event_id = serializers.UUIDField()
    severe = serializers.BooleanField()
    confidence = serializers.IntegerField(
        min_value=0, max_value=100, label=_model_label("confidence")
    )
    rating = serializers.IntegerField(
        min_value=0, max_value=100, allow_null=True, required=False, label=_model_label("rating")
    )
    conditions = serializers.JSONField(required=False, label=_model_label("conditions"))
    ivh_grade = serializers.IntegerField(
        min_value=1, max_value=4, allow_null=True, required=False, label=_model_label("ivh_grade")
    )
    comment = serializers.CharField(allow_blank=True, required=False)
    answer = serializers.JSONField(required=False)
    tool_use = serializers.JSONField(required=False)
    served_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField()
    wall_ms = serializers.IntegerField(min_value=0)
    active_ms = serializers.IntegerField(min_value=0)
    read_ms = serializers.IntegerField()
    revision = serializers.IntegerField(min_value=0, required=False)


def _own_guess(assignment: Assignment) -> str | None:
    # Only a blinded review takes a guess (source_guess_lock refuses it anywhere else).
    if assignment.session.phase != SessionPhase.BLINDED_REVIEW:
        return None
    guess = SourceGuess.objects.filter(assignment=assignment).first()
    return guess.guess if guess is not None else None


def _session_total(assignment: Assignment) -> int:
    # Serving the next case counts the session's cases in the statement that locks it.
    total = getattr(assignment, "session_total", None)
    return total if total is not None else assignment.session.assignments.count()


def assignment_data(assignment: Assignment) -> dict[str, Any]:
    """A case as a reader's API client sees it (no ids but the token and slot names)."""
    session = assignment.session
    slots = []
    for slot in assignment_slots(assignment=assignment):
        public = slot.as_public()
        public["url"] = (
            reverse("readers:media", kwargs={"token": assignment.token, "slot": slot.name})
            if slot.available
            else None
        )
        slots.append(public)
    material = assignment_material(assignment=assignment)
    # Read and answered_at are written in one transaction: no read without answered_at.
    read = (
        Read.objects.filter(assignment=assignment).first()
        if assignment.answered_at is not None
        else None
    )
    return {
        "token": assignment.token,
        "session": str(session.pk),
        "phase": session.phase,
        "position": assignment.position,
        "total": _session_total(assignment),
        "cine_fps": session.study.cine_fps,
        "allow_revisits": session.study.allow_revisits,
        "collects_rating": session.study.collects_rating,
        "slots": slots,
        "material": None
        if material is None
        else {
            "initial_severe": material.initial_severe,
            **({"probability": material.probability} if material.shows_ai else {}),
        },
        "draft": assignment.draft,
        "form_gate": phase_rules(session.phase).form_gate(assignment) or None,
        "source_guess": _own_guess(assignment),
        "answered": assignment.answered_at is not None,
        "read": ReadSerializer(read).data if read is not None else None,
    }


class AnswerSerializer(serializers.Serializer):
    """An answer as an API client sends it."""

    severe = serializers.BooleanField()
    confidence = serializers.IntegerField(min_value=0, max_value=100)
    rating = serializers.IntegerField(
        min_value=0,
        max_value=100,
        required=False,
        allow_null=True,
        default=None,
        help_text=_(
            "probability that the case is severe, 0–100: required where the study collects "
            "ratings (collects_rating), refused where it does not"
        ),
    )
    conditions = serializers.ListField(
        child=serializers.ChoiceField(choices=[c.value for c in Condition]),
        required=False,
        default=list,
    )
    ivh_grade = serializers.IntegerField(
        min_value=1, max_value=4, required=False, allow_null=True, default=None
    )
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    extra = serializers.DictField(required=False, default=dict)

    def answer(self) -> ReadAnswer:
        """The validated answer."""
        data = self.validated_data
        return ReadAnswer(
            severe=data["severe"],
            confidence=data["confidence"],
            conditions=tuple(data["conditions"]),
            ivh_grade=data["ivh_grade"],
            comment=data["comment"],
            extra=data["extra"],
            rating=data["rating"],
        )


class SubmitSerializer(AnswerSerializer):
    """A submission: the answer and the client's event id (its idempotency key)."""

    client_event_id = serializers.UUIDField()
    # How often each workstation tool was used (counts only; keys: readers.tool_use.TOOL_KEYS).
    tool_use = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=TOOL_COUNT_MAX),
        required=False,
        default=dict,
    )

    def validate_tool_use(self, value: dict[str, int]) -> dict[str, int]:
        try:
            return tool_use_clean(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc


class ReviseSerializer(AnswerSerializer):
    """A changed answer and its reason."""

    reason = serializers.CharField(max_length=500)


class ActivitySerializer(serializers.Serializer):
    """A visibility or idle event."""

    kind = serializers.CharField(max_length=16)


class EnrolSerializer(serializers.Serializer):
    """Enrol a user as a reader of the study."""

    username = serializers.CharField(max_length=150)
    tier = serializers.ChoiceField(choices=ReaderTier.choices)
    years_experience = serializers.IntegerField(min_value=0, max_value=60, default=0)


class SessionCreateSerializer(serializers.Serializer):
    """Create the sessions of the study's design."""

    datasets = serializers.ListField(
        child=serializers.UUIDField(), required=False, allow_null=True, default=None
    )
    seed = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0)


class CoordinatorSessionSerializer(serializers.Serializer):
    """A session as the coordinator sees it (progress only; never answers)."""

    id = serializers.UUIDField()
    reader = serializers.CharField(source="reader.username")
    phase = serializers.CharField()
    order_seed = serializers.IntegerField()
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    available_from = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
