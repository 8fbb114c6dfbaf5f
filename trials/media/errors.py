"""The one error the media layer raises for a file a user uploaded."""

from __future__ import annotations


class MediaError(ValueError):
    """A file that cannot be accepted: empty, too large, of an unknown type, truncated ...

    ``str(error)`` is a user-facing sentence that does not name the file (the caller knows
    the name the user gave it). :attr:`code` is a stable machine-readable reason
    (``missing``, ``empty``, ``too_large``, ``unknown_type``, ``truncated``,
    ``undecodable``, ``bad_size``, ``unsupported``, ``invalid``) so that a Django layer
    can map it to a translated message.
    """

    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code
