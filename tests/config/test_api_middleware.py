"""The API skips the pages' message store; pages keep it (issue 19, reads at scale)."""

from __future__ import annotations

from django.http import HttpResponse
from django.test import RequestFactory

from config.middleware import PageMessageMiddleware


def _through(path: str) -> object:
    seen = {}

    def view(request: object) -> HttpResponse:
        seen["messages"] = getattr(request, "_messages", None)
        return HttpResponse("ok")

    request = RequestFactory().get(path)
    request.session = {}  # type: ignore[assignment]  # a dict will do: no session is read
    response = PageMessageMiddleware(view)(request)
    assert isinstance(response, HttpResponse) and response.status_code == 200
    return seen["messages"]


def test_pages_get_a_message_store_and_the_api_does_not() -> None:
    assert _through("/studies/") is not None
    assert _through("/api/reading/sessions/") is None
