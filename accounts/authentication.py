"""API token authentication for scripts: ``Authorization: Bearer fnt_…``."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.hashing import API_TOKEN_MARK
from accounts.services import api_token_user

KEYWORDS = ("bearer", "token")


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """A personal API token (made on the API tokens page) in the Authorization header.

    Requests without one fall through to the session login; a token that is unknown or
    revoked is refused, never ignored. The session comes first in
    DEFAULT_AUTHENTICATION_CLASSES, so DRF answers 403 (no WWW-Authenticate) both without
    credentials and with a bad token (put first, this class would make both 401).
    """

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode(errors="replace") not in KEYWORDS:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid token header."))
        try:
            token = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed(_("Invalid token header.")) from exc
        found = api_token_user(token) if token.startswith(API_TOKEN_MARK) else None
        if found is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API token."))
        return found

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
