"""The readers API's refusals as responses (the reader's and the coordinator's endpoints)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from rest_framework import status
from rest_framework.response import Response

from readers.services import ReadingRefused


def refused(exc: ReadingRefused) -> Response:
    """A refusal with its reason and, for a session not yet open, when it opens."""
    return Response(
        {"detail": exc.message, "opens_at": exc.opens_at.isoformat() if exc.opens_at else None},
        status=exc.status_code,
    )


def invalid(exc: ValidationError) -> Response:
    """A rejected value (400) with Django's messages."""
    return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)
