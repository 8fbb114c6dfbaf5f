"""The language switch on every page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views import i18n

from preferences.services import SESSION_LANGUAGE_KEY, store_language, supported_language


def set_language(request: HttpRequest) -> HttpResponse:
    """Django's ``set_language`` (POST, CSRF-protected; sets the language cookie and redirects
    to a safe ``next``), and for a logged-in person the choice is stored on him and in his
    session, so it holds on every device and after the next login."""
    response = i18n.set_language(request)
    if request.method == "POST" and request.user.is_authenticated:
        language = supported_language(request.POST.get(i18n.LANGUAGE_QUERY_PARAMETER))
        if language:
            store_language(request.user, language)
            request.session[SESSION_LANGUAGE_KEY] = language
    return response
