"""Middleware that pages need and the JSON API does not."""

from __future__ import annotations

from django.contrib.messages.middleware import MessageMiddleware
from django.http import HttpRequest, HttpResponse

#: Paths of the DRF API (JSON; its HTML docs use no flash messages).
API_PREFIX = "/api/"


class PageMessageMiddleware(MessageMiddleware):
    """Django's messages for pages; skipped on the API, whose views never flash a message.

    Skipping it keeps the API's requests from setting up and updating a message store
    (cookie and session) they never use. A view under ``/api/`` that called
    ``messages.*`` would fail loudly (``MessageFailure``), not silently.
    """

    def process_request(self, request: HttpRequest) -> None:
        if not request.path_info.startswith(API_PREFIX):
            super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        return super().process_response(request, response)  # a no-op without request._messages
