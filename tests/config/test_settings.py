"""The settings fail closed: the embedded key serves only the embedded default.

Each case imports the settings in a fresh interpreter with its own environment (the
settings are read once per process), and no ``.env`` file is read.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config.checks import EMBEDDED_SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = "postgres://fontanelle@db.example.org:5432/fontanelle"
SECURITY = (
    "SECRET_KEY",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
    "ALLOWED_HOSTS",
)

_PROBE = """
import json, sys
from django.conf import settings
names = sys.argv[1:]
print(json.dumps({name: getattr(settings, name) for name in names}, default=str))
"""


def _settings(
    environment: dict[str, str], *names: str, module: str = "config.settings.base"
) -> Any:
    """The named settings as a fresh process sees them, or the failed process."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "FONTANELLE_", "AXES_", "CELERY_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE=module,
        DJANGO_ENV_FILE=str(ROOT / "var" / "no-such.env"),
        **environment,
    )
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *names],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        return result
    return json.loads(result.stdout.strip().splitlines()[-1])


def _refused(result: Any) -> str:
    assert isinstance(result, subprocess.CompletedProcess), f"settings loaded: {result}"
    assert "ImproperlyConfigured" in result.stderr, result.stderr
    return result.stderr


def test_the_embedded_default_runs_with_the_embedded_key_over_plain_http() -> None:
    values = _settings({}, *SECURITY)
    assert values["SECRET_KEY"] == EMBEDDED_SECRET_KEY
    assert not values["SECURE_SSL_REDIRECT"] and not values["SESSION_COOKIE_SECURE"]
    assert values["SECURE_HSTS_SECONDS"] == 0


@pytest.mark.parametrize(
    "environment",
    [
        {"DATABASE_URL": POSTGRES},
        {
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/fontanelle"
        },  # a real database, even local
        {"DJANGO_ALLOWED_HOSTS": "fontanelle.example.org"},
        {"DJANGO_ALLOWED_HOSTS": "localhost,fontanelle.example.org"},
        {"DJANGO_ALLOWED_HOSTS": "*"},
        {
            "DJANGO_SECRET_KEY": EMBEDDED_SECRET_KEY,
            "DATABASE_URL": POSTGRES,
        },  # typed in: the same key
    ],
)
def test_the_embedded_key_is_refused_outside_the_embedded_default(
    environment: dict[str, str],
) -> None:
    message = _refused(_settings(environment, "SECRET_KEY"))
    assert "DJANGO_SECRET_KEY" in message


def test_production_is_secure_unless_explicitly_turned_off() -> None:
    production = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": POSTGRES,
        "DJANGO_ALLOWED_HOSTS": "fontanelle.example.org",
    }
    values = _settings(production, *SECURITY)
    assert (
        values["SESSION_COOKIE_SECURE"]
        and values["CSRF_COOKIE_SECURE"]
        and values["SECURE_SSL_REDIRECT"]
    )
    assert values["SECURE_HSTS_SECONDS"] >= 365 * 24 * 3600
    # A public host alone (SQLite) is production too.
    sqlite_public = {
        "DJANGO_SECRET_KEY": production["DJANGO_SECRET_KEY"],
        "DJANGO_ALLOWED_HOSTS": "fontanelle.example.org",
    }
    assert _settings(sqlite_public, "SECURE_SSL_REDIRECT")["SECURE_SSL_REDIRECT"]
    off = {
        **production,
        "DJANGO_SECURE_COOKIES": "0",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_HSTS_SECONDS": "0",
    }
    values = _settings(off, *SECURITY)
    assert not values["SESSION_COOKIE_SECURE"] and not values["CSRF_COOKIE_SECURE"]
    assert not values["SECURE_SSL_REDIRECT"] and values["SECURE_HSTS_SECONDS"] == 0


def test_a_forwarded_proto_header_is_trusted_only_behind_a_declared_proxy() -> None:
    key = {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}
    assert _settings(key, "SECURE_PROXY_SSL_HEADER")["SECURE_PROXY_SSL_HEADER"] is None
    proxied = _settings({**key, "FONTANELLE_TRUSTED_PROXY_COUNT": "1"}, "SECURE_PROXY_SSL_HEADER")
    assert proxied["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_the_client_address_and_api_rates_are_set_by_the_environment() -> None:
    values = _settings(
        {
            "FONTANELLE_TRUSTED_PROXY_COUNT": "2",
            "FONTANELLE_API_ANON_RATE": "7/minute",
            "FONTANELLE_API_USER_RATE": "70/minute",
        },
        "REST_FRAMEWORK",
        "AXES_CLIENT_IP_CALLABLE",
        "AXES_IPWARE_PROXY_COUNT",
        "AXES_IPWARE_META_PRECEDENCE_ORDER",
        "FONTANELLE_TRUSTED_PROXY_COUNT",
    )
    assert values["FONTANELLE_TRUSTED_PROXY_COUNT"] == 2
    assert values["REST_FRAMEWORK"]["NUM_PROXIES"] == 2 and values["AXES_IPWARE_PROXY_COUNT"] == 2
    assert values["AXES_IPWARE_META_PRECEDENCE_ORDER"][0] == "HTTP_X_FORWARDED_FOR"
    assert values["AXES_CLIENT_IP_CALLABLE"] == "config.accounts.client_ip_address"
    assert values["REST_FRAMEWORK"]["DEFAULT_THROTTLE_RATES"] == {
        "anon": "7/minute",
        "user": "70/minute",
    }
    direct = _settings({}, "REST_FRAMEWORK", "AXES_IPWARE_META_PRECEDENCE_ORDER")
    assert direct["REST_FRAMEWORK"]["NUM_PROXIES"] == 0
    assert direct["AXES_IPWARE_META_PRECEDENCE_ORDER"] == ["REMOTE_ADDR"]


def test_the_test_settings_and_ci_run_on_postgresql() -> None:
    """CI: the test settings with a PostgreSQL URL; the lint step: the default settings with
    the key .ci/run exports."""
    values = _settings({"DATABASE_URL": POSTGRES}, *SECURITY, module="config.settings.test")
    assert values["SECRET_KEY"] != EMBEDDED_SECRET_KEY
    assert (
        not values["SECURE_SSL_REDIRECT"] and not values["SESSION_COOKIE_SECURE"]
    )  # live_server is plain HTTP
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    exported = ci.index(next(line for line in ci if line.startswith("export DJANGO_SECRET_KEY=")))
    assert exported < ci.index("make lint") and exported < ci.index("make test")


def test_dot_env_is_ignored_by_git() -> None:
    in_git = (
        subprocess.run(
            ["git", "rev-parse", "--is-inside-work-tree"],
            cwd=ROOT,
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    if not in_git:  # an exported tree: the rule itself
        assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
        return
    for name in (".env", ".env.production"):
        assert (
            subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT, check=False).returncode
            == 0
        ), name
