"""Login throttling per account and per address, API throttles, the client address behind proxies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, RequestFactory
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from config.accounts import client_ip_address
from tests.trials.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def _login(username: str, password: str, *, ip: str, **meta: Any) -> tuple[Client, Any]:
    client = Client(REMOTE_ADDR=ip, **meta)
    response = client.post(LOGIN, {"username": username, "password": password})
    return client, response


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def limits(settings: Any) -> tuple[int, int]:
    settings.AXES_FAILURE_LIMIT = 3
    settings.FONTANELLE_LOGIN_IP_FAILURE_LIMIT = 6
    return 3, 6


def test_an_account_is_locked_after_failures_from_many_addresses(limits: tuple[int, int]) -> None:
    account_limit, _ = limits
    UserFactory(username="victim")
    for index in range(account_limit):
        client, _ = _login("victim", "wrong-password-x", ip=f"198.51.100.{index + 1}")
        assert not _logged_in(client)
    client, response = _login(
        "victim", PASSWORD, ip="203.0.113.77"
    )  # the right password, a new address
    assert response.status_code in (403, 429) and not _logged_in(client)
    UserFactory(username="bystander")
    client, response = _login("bystander", PASSWORD, ip="203.0.113.77")
    assert response.status_code == 302 and _logged_in(client)


def test_an_address_is_locked_after_failures_against_many_accounts(limits: tuple[int, int]) -> None:
    account_limit, ip_limit = limits
    UserFactory(username="sprayed")
    UserFactory(username="colleague")
    # Password spraying: fewer failures per account than its limit, many accounts.
    for index in range(ip_limit):
        client, _ = _login(f"guess{index % 3}", "wrong-password-x", ip="198.51.100.9")
        assert not _logged_in(client)
    assert ip_limit // 3 < account_limit
    client, response = _login("sprayed", PASSWORD, ip="198.51.100.9")
    assert response.status_code in (403, 429) and not _logged_in(client)
    # The accounts themselves are not locked: from elsewhere they log in.
    client, response = _login("colleague", PASSWORD, ip="203.0.113.8")
    assert response.status_code == 302 and _logged_in(client)


def test_fewer_failures_per_address_than_its_limit_lock_nobody(limits: tuple[int, int]) -> None:
    account_limit, _ = limits
    UserFactory(username="typist")
    for _ in range(account_limit - 1):
        _login("typist", "wrong-password-x", ip="198.51.100.20")
    client, response = _login("typist", PASSWORD, ip="198.51.100.20")
    assert response.status_code == 302 and _logged_in(client)


def test_logging_in_to_ones_own_account_does_not_clear_failures_against_another(
    limits: tuple[int, int],
) -> None:
    account_limit, _ = limits
    UserFactory(username="target")
    UserFactory(username="attacker")
    for _ in range(account_limit - 1):
        _login("target", "wrong-password-x", ip="198.51.100.30")
    client, _ = _login("attacker", PASSWORD, ip="198.51.100.30")
    assert _logged_in(client)
    _login("target", "wrong-password-x", ip="198.51.100.31")  # one more, from elsewhere
    client, response = _login("target", PASSWORD, ip="203.0.113.31")
    assert response.status_code in (403, 429) and not _logged_in(client)


def test_a_successful_login_clears_ones_own_failures(limits: tuple[int, int]) -> None:
    account_limit, _ = limits
    UserFactory(username="forgetful")
    for _ in range(account_limit - 1):
        _login("forgetful", "wrong-password-x", ip="198.51.100.40")
    client, _ = _login("forgetful", PASSWORD, ip="198.51.100.40")
    assert _logged_in(client)
    for _ in range(account_limit - 1):
        _login("forgetful", "wrong-password-x", ip="198.51.100.40")
    client, _ = _login("forgetful", PASSWORD, ip="198.51.100.40")
    assert _logged_in(client)


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.5", "10.0.0.1"),  # no proxy declared: the header is the client's to forge
        (1, "203.0.113.5", "203.0.113.5"),
        (1, "6.6.6.6, 203.0.113.5", "203.0.113.5"),  # the forged left-most entry is ignored
        (2, "6.6.6.6, 203.0.113.5, 10.0.0.2", "203.0.113.5"),
        (2, "203.0.113.5", "203.0.113.5"),  # fewer hops than proxies: the first proxy's peer
        (1, "", "10.0.0.1"),
        (1, "not-an-address", "10.0.0.1"),
    ],
)
def test_the_client_address_behind_trusted_proxies(
    settings: Any, proxies: int, forwarded: str, expected: str
) -> None:
    settings.FONTANELLE_TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip_address(request) == expected


def test_lockout_counts_the_proxied_client_not_the_proxy(
    settings: Any, limits: tuple[int, int]
) -> None:
    _, ip_limit = limits
    settings.FONTANELLE_TRUSTED_PROXY_COUNT = 1
    UserFactory(username="behind-proxy")
    for index in range(ip_limit):  # one attacker, forging the left-most entry each time
        _login(
            f"guess{index % 3}",
            "wrong-password-x",
            ip="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"6.6.6.{index}, 198.51.100.50",
        )
    client, response = _login(
        "behind-proxy", PASSWORD, ip="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.50"
    )
    assert response.status_code in (403, 429) and not _logged_in(client)
    # Another client through the same proxy is not locked.
    client, response = _login(
        "behind-proxy", PASSWORD, ip="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.51"
    )
    assert response.status_code == 302 and _logged_in(client)


@pytest.fixture
def low_api_rates(monkeypatch: Any) -> Iterator[None]:
    # DRF binds THROTTLE_RATES at import; the dict is the settings' own, so patch its entries.
    monkeypatch.setitem(AnonRateThrottle.THROTTLE_RATES, "anon", "3/minute")
    monkeypatch.setitem(UserRateThrottle.THROTTLE_RATES, "user", "5/minute")
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.mark.usefixtures("low_api_rates")
def test_the_api_throttles_anonymous_clients(settings: Any) -> None:
    """Every API view throttles by default; anonymous clients per address (the project's API
    views refuse anonymous requests before throttling, so a view open to them shows it)."""

    class OpenProbe(APIView):
        permission_classes = [AllowAny]

        def get(self, request: Any) -> Response:
            return Response({})

    view = OpenProbe.as_view()
    factory = APIRequestFactory()
    answers = [
        view(factory.get("/probe/", REMOTE_ADDR="198.51.100.60")).status_code for _ in range(4)
    ]
    assert answers == [200, 200, 200, 429]
    assert (
        view(factory.get("/probe/", REMOTE_ADDR="198.51.100.61")).status_code == 200
    )  # per address
    # Behind a proxy, per client: forging the left-most X-Forwarded-For entry does not help.
    settings.FONTANELLE_TRUSTED_PROXY_COUNT = 1
    proxied = [
        view(
            factory.get(
                "/probe/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"6.6.6.{i}, 198.51.100.62"
            )
        ).status_code
        for i in range(4)
    ]
    assert proxied == [200, 200, 200, 429]


@pytest.mark.usefixtures("low_api_rates")
def test_the_api_throttles_each_user() -> None:
    client = Client()
    client.force_login(UserFactory(username="busy"))
    answers = [client.get("/api/studies/").status_code for _ in range(6)]
    assert answers[:5] == [200] * 5 and answers[5] == 429
    other = Client()
    other.force_login(UserFactory(username="calm"))
    assert other.get("/api/studies/").status_code == 200  # per user
