"""E-mail: the console backend by default, SMTP by EMAIL_URL or EMAIL_HOST and friends."""

from __future__ import annotations

from tests.config.test_settings import _settings

NAMES = (
    "EMAIL_BACKEND",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS",
    "DEFAULT_FROM_EMAIL",
)


def test_console_by_default() -> None:
    values = _settings({}, *NAMES)
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"


def test_smtp_by_email_url() -> None:
    values = _settings(
        {
            "EMAIL_URL": "smtp+tls://mailer:s3cret@mail.example.org:587",
            "DEFAULT_FROM_EMAIL": "Study <study@example.org>",
        },
        *NAMES,
    )
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (values["EMAIL_HOST"], values["EMAIL_PORT"]) == ("mail.example.org", 587)
    assert (values["EMAIL_HOST_USER"], values["EMAIL_HOST_PASSWORD"]) == ("mailer", "s3cret")
    assert values["EMAIL_USE_TLS"] is True
    assert values["DEFAULT_FROM_EMAIL"] == "Study <study@example.org>"


def test_smtp_by_separate_variables() -> None:
    values = _settings(
        {
            "EMAIL_HOST": "smtp.example.org",
            "EMAIL_PORT": "2525",
            "EMAIL_HOST_USER": "u",
            "EMAIL_HOST_PASSWORD": "p",
            "EMAIL_USE_TLS": "true",
        },
        *NAMES,
    )
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (values["EMAIL_HOST"], values["EMAIL_PORT"], values["EMAIL_USE_TLS"]) == (
        "smtp.example.org",
        2525,
        True,
    )
