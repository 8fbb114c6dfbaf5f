"""Why the server refuses a reading action (each refusal carries its HTTP status)."""

from __future__ import annotations

from datetime import datetime


class ReadingRefused(Exception):
    """The server refuses a reading action (session not open, out of order, ...)."""

    status_code = 403

    def __init__(self, message: str, *, opens_at: datetime | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.opens_at = opens_at


class AlreadyAnswered(ReadingRefused):
    """The case was answered already (a new answer is not a retry of the first)."""

    status_code = 409
