"""Reading and storing a person's interface language."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import check_for_language

from preferences.models import UserPreference

#: The session key that carries the stored language from the login to every request.
SESSION_LANGUAGE_KEY = "fontanelle_language"


def supported_language(code: str | None) -> str | None:
    """``code`` if it is one of ``settings.LANGUAGES`` with a catalog, else None."""
    if code and code in dict(settings.LANGUAGES) and check_for_language(code):
        return code
    return None


def stored_language(user: Any) -> str | None:
    """The language ``user`` chose, or None when he never chose (the browser decides)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    code = UserPreference.objects.filter(user=user).values_list("language", flat=True).first()
    return supported_language(code)


def language_for(user: Any) -> str:
    """The language to write to ``user`` in when no request is at hand (e-mails, exports made
    by a worker): his choice, else the site's default."""
    return stored_language(user) or settings.LANGUAGE_CODE


def store_language(user: Any, code: str) -> None:
    """Remember ``code`` (a supported language) as ``user``'s choice."""
    UserPreference.objects.update_or_create(user=user, defaults={"language": code})
