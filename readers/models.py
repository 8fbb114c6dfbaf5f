"""Reading sessions, assignments, reads and their timing (a reader's tier is his membership's)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from trials.models import Case, MaterialSet, Study, UUIDModel
from trials.models import ReaderTier as ReaderTier  # re-exported: the tier lives on Membership


class SessionPhase(models.TextChoices):
    UNAIDED = "unaided", _("Unaided")
    AIDED = "aided", _("Aided")
    BLINDED_REVIEW = "blinded_review", _("Blinded review")
    QUALITATIVE = "qualitative", _("Qualitative")
    PREPARATION = "preparation", _("Material preparation")


class ReadingSession(UUIDModel):
    """One reader's pass over a list of cases in one phase, in a stored random order.

    ``order_seed`` and ``case_order`` (case ids as strings) are kept so the order can be
    audited and reproduced. ``available_from`` is when the session opens (set for an
    aided session when its washout starts); the server checks it on every serve.
    """

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="reading_sessions")
    reader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reading_sessions"
    )
    phase = models.CharField(_("phase"), max_length=16, choices=SessionPhase.choices)
    order_seed = models.BigIntegerField()
    case_order = models.JSONField(default=list)
    available_from = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["study", "reader", "created"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "reader", "phase"], name="reading_session_one_per_phase"
            ),
        ]
        indexes = [models.Index(fields=["reader", "study"])]

    def __str__(self) -> str:
        return f"{self.reader} {self.phase} in {self.study}"


def new_assignment_token() -> str:
    """An opaque, unguessable token: the only id of a case a reader ever sees."""
    return secrets.token_urlsafe(18)


class Assignment(UUIDModel):
    """One case (and the material shown, where the phase shows one) at one position.

    Timing lives here while the case is open and is copied into the read on submission:
    ``served_at`` (first serve), the accumulated ``active_ms`` and the current active
    stretch (``active_since``) with the last sign of life (``last_seen_at``).
    """

    session = models.ForeignKey(
        ReadingSession, on_delete=models.PROTECT, related_name="assignments"
    )
    position = models.PositiveIntegerField()
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="assignments")
    material_set = models.ForeignKey(
        MaterialSet, on_delete=models.PROTECT, null=True, blank=True, related_name="assignments"
    )
    token = models.CharField(max_length=32, unique=True, default=new_assignment_token)
    served_at = models.DateTimeField(null=True, blank=True)
    active_ms = models.PositiveBigIntegerField(default=0)
    active_since = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    draft = models.JSONField(default=dict, blank=True)
    draft_saved_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["session", "position"]
        constraints = [
            models.UniqueConstraint(fields=["session", "position"], name="assignment_position"),
            models.UniqueConstraint(fields=["session", "case"], name="assignment_case_once"),
        ]

    def __str__(self) -> str:
        return f"assignment {self.position} of {self.session_id}"


class ActivityKind(models.TextChoices):
    VISIBLE = "visible", _("Page visible")
    HIDDEN = "hidden", _("Page hidden")
    IDLE = "idle", _("Reader idle")
    ACTIVE = "active", _("Reader active again")
    HEARTBEAT = "heartbeat", _("Heartbeat")


class ActivityEvent(models.Model):
    """A visibility or idle event as the server received it (its own clock)."""

    id = models.BigAutoField(primary_key=True)
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="activity")
    kind = models.CharField(max_length=16, choices=ActivityKind.choices)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} at {self.received_at}"


class Read(UUIDModel):
    """A reader's answer to one assignment and its server-measured timing.

    ``answer`` holds phase-specific fields (e.g. a blinded review's locked source guess);
    ``tool_use`` the workstation's tool counts sent with the answer; ``read_ms`` (= active time)
    is what analyses use, ``wall_ms`` is kept beside it.
    """

    assignment = models.OneToOneField(Assignment, on_delete=models.PROTECT, related_name="read")
    reader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reads"
    )
    client_event_id = models.UUIDField(unique=True)
    severe = models.BooleanField(_("severe"))
    confidence = models.PositiveSmallIntegerField(_("confidence (0–100)"))
    #: The reader's probability that the case is severe, 0–100, where the study collects it
    #: (``Study.collects_rating``); None otherwise. It need not agree with ``severe``.
    rating = models.PositiveSmallIntegerField(
        _("probability of severe (0–100)"), null=True, blank=True
    )
    conditions = models.JSONField(_("findings"), default=list, blank=True)
    ivh_grade = models.PositiveSmallIntegerField(_("IVH grade (Papile)"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    answer = models.JSONField(default=dict, blank=True)
    #: How often each workstation tool was used (counts only; :mod:`readers.tool_use`);
    #: ``{}`` when the client sent none.
    tool_use = models.JSONField(_("tool use"), default=dict, blank=True)
    served_at = models.DateTimeField()
    answered_at = models.DateTimeField()
    wall_ms = models.PositiveBigIntegerField()
    active_ms = models.PositiveBigIntegerField()
    revision = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["answered_at"]
        constraints = [
            models.CheckConstraint(condition=Q(confidence__lte=100), name="read_confidence_0_100"),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__lte=100), name="read_rating_0_100"
            ),
            models.CheckConstraint(
                condition=Q(ivh_grade__isnull=True) | (Q(ivh_grade__gte=1) & Q(ivh_grade__lte=4)),
                name="read_ivh_grade_1_4",
            ),
            models.CheckConstraint(
                condition=Q(active_ms__lte=F("wall_ms")), name="read_active_within_wall"
            ),
        ]

    def __str__(self) -> str:
        return f"read {self.id}"

    @property
    def read_ms(self) -> int:
        """Read time as analysed: the active time."""
        return self.active_ms


class SourceGuessChoice(models.TextChoices):
    AI = "ai", _("AI")
    JUNIOR = "junior", _("Junior radiologist")
    DONT_KNOW = "dont_know", _("Don't know")


class SourceGuess(UUIDModel):
    """A senior's guess of a blinded material's source, locked before he may diagnose.

    One per assignment (unique); a database trigger refuses any UPDATE of the row (and on
    PostgreSQL any DELETE; see migration 0002), so a guess cannot change once saved.
    """

    assignment = models.OneToOneField(
        Assignment, on_delete=models.PROTECT, related_name="source_guess"
    )
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    guess = models.CharField(_("source guess"), max_length=16, choices=SourceGuessChoice.choices)
    client_event_id = models.UUIDField(unique=True)
    guessed_at = models.DateTimeField()

    class Meta:
        ordering = ["guessed_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(guess__in=["ai", "junior", "dont_know"]), name="source_guess_choice"
            ),
        ]

    def __str__(self) -> str:
        return f"source guess {self.id}"


class WashoutNotice(models.Model):
    """The e-mail telling a reader that his washout has ended and his aided session is open.

    One per aided session (so once per reader and study): the row is written in the
    transaction that sends the e-mail, and its existence is what keeps a second task or the
    daily sweep from sending it again.
    """

    id = models.BigAutoField(primary_key=True)
    session = models.OneToOneField(
        ReadingSession, on_delete=models.CASCADE, related_name="washout_notice"
    )
    email = models.EmailField(blank=True)
    language = models.CharField(max_length=16)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"washout notice of {self.session_id}"
