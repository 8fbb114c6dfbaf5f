"""At login, the person's stored language travels into his session."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from preferences.services import SESSION_LANGUAGE_KEY, stored_language


@receiver(user_logged_in, dispatch_uid="preferences.language_at_login")
def language_at_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    if session is None:
        return
    language = stored_language(user)
    if language:
        session[SESSION_LANGUAGE_KEY] = language
    else:
        session.pop(SESSION_LANGUAGE_KEY, None)
