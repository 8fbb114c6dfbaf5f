"""Apply the logged-in person's stored language to each request of his session."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from preferences.services import SESSION_LANGUAGE_KEY, supported_language


class UserLanguageMiddleware:
    """After ``LocaleMiddleware`` (browser language, cookie) and ``AuthenticationMiddleware``:
    the language stored for the person, copied into his session at login, wins. It reads the
    session only (no query). The language cookie follows, so the login page after a logout
    speaks the person's language too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        language = (
            supported_language(session.get(SESSION_LANGUAGE_KEY)) if session is not None else None
        )
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        if language and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response
