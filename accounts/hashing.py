"""One-time secrets: made with :mod:`secrets`, stored only as SHA-256 hex digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets

#: What every API token starts with (so that scanners and people recognise one).
API_TOKEN_MARK = "fnt_"  # noqa: S105 (a public marker)
#: How many leading characters of an API token are stored in clear to find its row.
API_TOKEN_PREFIX_LENGTH = 12


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def same_digest(a: str, b: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(a.encode(), b.encode())


def new_invitation_token() -> str:
    return secrets.token_urlsafe(32)


def new_api_token() -> str:
    return API_TOKEN_MARK + secrets.token_urlsafe(32)
