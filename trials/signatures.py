"""Electronic signatures (21 CFR Part 11 style): re-entered password, meaning, signed hash.

A :class:`Signature` is proof that a user re-entered his password just now and chose a
meaning ("I approve", "I am the author", "I have reviewed"). Only :func:`signature_make`
makes one (it checks the password); pages and the API make it from the request, trusted
code (the demo builder) from a user and his known password. Services that need a
signature (locking and unblinding a study, signing off and amending a gold standard) take
it as an argument and call :func:`signature_apply`, which writes a ``signature.applied``
row into the study's audit chain: signer, time, meaning, what was signed (object type and
id) and the SHA-256 of the canonical JSON of the signed content (:func:`content_sha256`).

A signature is used once and only by its signer, and only within
:data:`SIGNATURE_MAX_AGE` of the password check.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from trials.audit import audit_record
from trials.models import AuditAction, AuditEvent

#: How long after the password check a signature may be applied.
SIGNATURE_MAX_AGE = timedelta(minutes=5)
_MINT = object()


class SignatureMeaning(models.TextChoices):
    APPROVAL = "approval", gettext_lazy("I approve")
    AUTHORSHIP = "authorship", gettext_lazy("I am the author")
    REVIEW = "review", gettext_lazy("I have reviewed")


#: The meanings in English, as the audit chain records them (independent of the language).
MEANING_TEXT: dict[str, str] = {
    "approval": "I approve",
    "authorship": "I am the author",
    "review": "I have reviewed",
}


class SignatureRefused(ValidationError):
    """The password was wrong (or the account locked out): nothing was signed."""


@dataclass(eq=False)
class Signature:
    """A user's re-entered password and chosen meaning; made by :func:`signature_make` only."""

    user: Any
    meaning: str
    authenticated_at: datetime
    _mint: object = field(repr=False)
    used: bool = False

    def __post_init__(self) -> None:
        if self._mint is not _MINT:
            raise TypeError("A Signature is made by trials.signatures.signature_make only.")


def signature_make(*, user: Any, password: str, meaning: str, request: Any = None) -> Signature:
    """Check ``user``'s password and return his signature with ``meaning``.

    With a ``request`` (pages, API) the password goes through Django's ``authenticate``,
    so a wrong one counts toward the login lockout (django-axes) and a locked-out account
    cannot sign; without one (trusted code) it is checked against the user directly.
    Raises :class:`SignatureRefused` (a ``ValidationError``) when it does not match.
    """
    if meaning not in SignatureMeaning.values:
        raise ValidationError(
            {
                "meaning": _("Choose what your signature means: %s.")
                % ", ".join(str(label) for label in SignatureMeaning.labels)
            }
        )
    if user is None or not getattr(user, "is_authenticated", False) or not password:
        raise SignatureRefused({"password": _("Re-enter your password to sign.")})
    if request is not None:
        django_request = getattr(request, "_request", request)  # a DRF request wraps Django's
        authenticated = authenticate(
            django_request, username=user.get_username(), password=password
        )
        ok = authenticated is not None and authenticated.pk == user.pk
    else:
        ok = bool(user.is_active and user.check_password(password))
    if not ok:
        raise SignatureRefused({"password": _("The password is not correct; nothing was signed.")})
    return Signature(user=user, meaning=meaning, authenticated_at=timezone.now(), _mint=_MINT)


def canonical_json(content: Any) -> str:
    """The canonical JSON of signed content: sorted keys, no spaces, UUIDs/dates as text."""
    normal = json.loads(json.dumps(content, default=str, sort_keys=True))
    return json.dumps(normal, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_sha256(content: Any) -> str:
    """SHA-256 (hex) of :func:`canonical_json` of the signed content."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def signature_apply(
    *,
    signature: Signature | None,
    actor: Any,
    target: models.Model,
    purpose: str,
    content: dict[str, Any],
) -> AuditEvent:
    """Record ``signature`` over ``content`` (of ``target``) in the audit chain.

    Must run inside the transaction of the signed change. Refuses a missing, used,
    stale or someone else's signature.
    """
    if signature is None:
        raise SignatureRefused(
            {"password": _("This needs your electronic signature: password and meaning.")}
        )
    if not isinstance(signature, Signature):
        raise TypeError("signature must be a trials.signatures.Signature")
    if actor is None or signature.user.pk != getattr(actor, "pk", None):
        raise SignatureRefused(_("A signature is applied only by the one who signed."))
    if signature.used:
        raise SignatureRefused(_("A signature is used once."))
    signed_at = timezone.now()
    if signed_at - signature.authenticated_at > SIGNATURE_MAX_AGE:
        raise SignatureRefused(_("The signature is too old; re-enter your password."))
    signature.used = True
    user = signature.user
    after = {
        "signer": user.get_username(),
        "signer_id": str(user.pk),
        "signer_name": user.get_full_name() if hasattr(user, "get_full_name") else "",
        "meaning": signature.meaning,
        "meaning_text": MEANING_TEXT[signature.meaning],
        "signed_at": signed_at.isoformat(),
        "purpose": purpose,
        "object_type": target._meta.label_lower,
        "object_id": str(target.pk),
        "content": json.loads(canonical_json(content)),
        "content_sha256": content_sha256(content),
    }
    return audit_record(
        actor=actor, action=AuditAction.SIGNATURE_APPLIED, target=target, after=after
    )


@dataclass(frozen=True)
class SignatureView:
    """A recorded signature as pages and the API show it."""

    event_id: int
    purpose: str
    signer: str
    meaning: str
    meaning_text: str
    signed_at: str
    object_type: str
    object_id: str
    content_sha256: str
    audit_hash: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _view(event: AuditEvent) -> SignatureView:
    after = event.after or {}
    return SignatureView(
        event_id=event.id,
        purpose=after.get("purpose", ""),
        signer=after.get("signer", ""),
        meaning=after.get("meaning", ""),
        meaning_text=after.get("meaning_text", ""),
        signed_at=after.get("signed_at", ""),
        object_type=event.target_type,
        object_id=event.target_id,
        content_sha256=after.get("content_sha256", ""),
        audit_hash=event.hash,
    )


def signatures_of(target: models.Model) -> list[SignatureView]:
    """The signatures recorded over ``target``, oldest first."""
    events = AuditEvent.objects.filter(
        action=AuditAction.SIGNATURE_APPLIED,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
    ).order_by("id")
    return [_view(e) for e in events]


def signatures_of_study(study_id: Any, *, object_type: str | None = None) -> list[SignatureView]:
    """Every signature recorded in a study's chain (optionally over one object type)."""
    events = AuditEvent.objects.filter(action=AuditAction.SIGNATURE_APPLIED, study_id=study_id)
    if object_type is not None:
        events = events.filter(target_type=object_type)
    return [_view(e) for e in events.order_by("id")]
