"""Login throttling and the client's address, for django-axes and the API throttles.

- The client's address is ``REMOTE_ADDR``, or, behind ``FONTANELLE_TRUSTED_PROXY_COUNT``
  reverse proxies that each append to ``X-Forwarded-For``, the address the outermost proxy
  saw: the N-th entry from the right. Entries further left come from the client and can
  be forged, so they are never used. Login lockout and API throttles use the same rule
  (it is DRF's ``NUM_PROXIES`` rule).
- Login lockout counts failures per account, whatever the address (``AXES_FAILURE_LIMIT``),
  and per address, whatever the account (``FONTANELLE_LOGIN_IP_FAILURE_LIMIT``, higher:
  one site's readers may share one address behind NAT). A successful login forgets only
  that account's failures from that address, so logging in to one's own account does not
  wipe failures against another account or from elsewhere.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


def client_ip_address(request: HttpRequest) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or the trusted proxies' record of it."""
    remote = request.META.get("REMOTE_ADDR")
    proxies = int(getattr(settings, "FONTANELLE_TRUSTED_PROXY_COUNT", 0))
    if proxies <= 0:
        return remote
    hops = [
        hop.strip()
        for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if hop.strip()
    ]
    if not hops:
        return remote
    candidate = hops[-min(proxies, len(hops))]
    try:
        ipaddress.ip_address(candidate)
    except ValueError:  # a proxy that does not write addresses: fall back to the peer
        return remote
    return candidate


class LoginThrottleHandler(AxesDatabaseHandler):
    """Axes' database handler, locking per account and per address with separate limits."""

    @staticmethod
    def _recent_failures(request: HttpRequest, **lookup: Any) -> int:
        attempts = AccessAttempt.objects.filter(**lookup)
        if settings.AXES_COOLOFF_TIME is not None:
            attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
        return int(attempts.aggregate(failures=Sum("failures_since_start"))["failures"] or 0)

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        """The account's recent failures; the account limit itself once the address is over its own.

        Axes locks when this reaches ``AXES_FAILURE_LIMIT``, so an address over
        ``FONTANELLE_LOGIN_IP_FAILURE_LIMIT`` is locked for every account.
        """
        username = get_client_username(request, credentials)
        by_account = self._recent_failures(request, username=username) if username else 0
        by_address = self._recent_failures(request, ip_address=request.axes_ip_address)  # type: ignore[attr-defined]
        if by_address >= settings.FONTANELLE_LOGIN_IP_FAILURE_LIMIT:
            return max(by_account, get_failure_limit(request, credentials))
        return by_account

    def reset_user_attempts(
        self, request: HttpRequest, credentials: dict[str, Any] | None = None
    ) -> int:
        """After a successful login: forget this account's failures from this address only."""
        username = get_client_username(request, credentials)
        count, _ = AccessAttempt.objects.filter(
            username=username,
            ip_address=request.axes_ip_address,  # type: ignore[attr-defined]
        ).delete()
        return int(count)


class AnonymousApiThrottle(AnonRateThrottle):
    """DRF's anonymous rate (``anon``), per client address as :func:`client_ip_address` finds it."""

    def get_ident(self, request: Any) -> str:
        return client_ip_address(request) or ""


class UserApiThrottle(UserRateThrottle):
    """DRF's per-user rate (``user``); anonymous requests counted per client address."""

    def get_ident(self, request: Any) -> str:
        return client_ip_address(request) or ""
