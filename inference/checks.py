"""System checks of the inference app's settings (run by every ``manage.py`` command)."""

from __future__ import annotations

import importlib.util
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from inference.services import is_demo_module


@register("fontanelle")
def check_pipeline_runner(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """``FONTANELLE_PIPELINE_RUNNER`` names an importable module outside the demo code.

    Checked from the dotted path alone: importing the runner would load PyTorch into every
    process that runs the checks (web servers included); the task resolves it when it runs.
    """
    configured = settings.FONTANELLE_PIPELINE_RUNNER
    if not isinstance(configured, str):
        return []  # a callable set by a test
    module, _dot, name = configured.rpartition(".")
    if not module or not name:
        return [
            Error(
                f"FONTANELLE_PIPELINE_RUNNER {configured!r} is not a dotted path.",
                hint="Name a callable, e.g. inference.runner.run_ncls_pipeline.",
                id="fontanelle.E010",
            )
        ]
    if is_demo_module(module):
        return [
            Error(
                f"FONTANELLE_PIPELINE_RUNNER {configured!r} is demo code.",
                hint="The demo's stand-in reads the phantom's truth; it never runs as the "
                "pipeline. Name the NCLS runner (inference.runner.run_ncls_pipeline).",
                id="fontanelle.E011",
            )
        ]
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return [
            Error(
                f"FONTANELLE_PIPELINE_RUNNER {configured!r}: no module {module!r}.",
                hint="Name a callable, e.g. inference.runner.run_ncls_pipeline.",
                id="fontanelle.E012",
            )
        ]
    return []
