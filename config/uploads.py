"""Uploads larger than ``FONTANELLE_MAX_UPLOAD_BYTES`` are refused before they are stored whole.

Two guards, both answering 413 with the limit in words:

- :class:`UploadLimitMiddleware` refuses a request whose declared length (Content-Length)
  is over the limit plus room for the form's other fields, before anything reads the body.
- :class:`UploadLimitHandler`, the first upload handler, counts the bytes of the request's
  files as they stream in and stops the upload once they pass the limit, so the handlers
  that store uploads (in memory, in a temporary file) never receive more than the limit.
  Its :class:`UploadTooLarge` reaches :func:`bad_request` (the project's ``handler400``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.views import defaults

#: Room in a request body for the multipart framing and the form's other (small) fields.
FORM_FIELDS_ALLOWANCE = 64 * 1024


class UploadTooLarge(RequestDataTooBig):
    """The request's files pass FONTANELLE_MAX_UPLOAD_BYTES."""


def upload_limit() -> int:
    """The largest upload accepted, in bytes."""
    return int(settings.FONTANELLE_MAX_UPLOAD_BYTES)


def upload_refusal(request: HttpRequest) -> HttpResponse:
    """413 with the limit: JSON for the API, a page for the browser."""
    message = _("The upload is larger than the limit of %(limit)s.") % {
        "limit": filesizeformat(upload_limit())
    }
    if request.path.startswith("/api/") or "application/json" in request.META.get(
        "HTTP_ACCEPT", ""
    ):
        return JsonResponse({"detail": message}, status=413)
    return render(request, "upload_too_large.html", {"message": message}, status=413)


def declared_length_too_large(meta: dict[str, Any]) -> bool:
    """Whether a request's Content-Length is over the limit plus the form fields' room."""
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False  # Django refuses a malformed length itself
    return length > upload_limit() + FORM_FIELDS_ALLOWANCE


class UploadLimitMiddleware:
    """Refuse a body declared larger than the limit before any middleware or view reads it."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if declared_length_too_large(request.META):
            return upload_refusal(request)
        return self.get_response(request)


class UploadLimitHandler(FileUploadHandler):
    """The first upload handler: passes chunks on until the request's files pass the limit."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.received = 0

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: Any,
        encoding: str | None = None,
    ) -> None:
        # Also where the middleware is not installed (a view called directly).
        if declared_length_too_large({"CONTENT_LENGTH": content_length}):
            raise UploadTooLarge(f"declared length {content_length} is over the upload limit")

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > upload_limit():
            raise UploadTooLarge(f"upload passed {upload_limit()} bytes")
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the storing handlers after this one make the file


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The project's 400 handler: an upload stopped at the limit is answered 413 and why."""
    if isinstance(exception, UploadTooLarge):
        return upload_refusal(request)
    return defaults.bad_request(request, exception)
