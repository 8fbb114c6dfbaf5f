"""Deployment checks of the project's own settings (run by ``manage.py check --deploy``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register

#: The key the embedded default (SQLite, demo) runs with; never acceptable in production
#: (the settings refuse to load with it outside the embedded default).
EMBEDDED_SECRET_KEY = "fontanelle-embedded-default-not-for-production-use-0123456789abcdef"  # noqa: S105


@register(Tags.security, deploy=True)
def check_secret_key_is_set(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """Production must set DJANGO_SECRET_KEY: the embedded default is public."""
    if settings.SECRET_KEY == EMBEDDED_SECRET_KEY:
        return [
            Warning(
                "SECRET_KEY is the embedded development default.",
                hint="Set DJANGO_SECRET_KEY to a long random value.",
                id="fontanelle.W001",
            )
        ]
    return []
