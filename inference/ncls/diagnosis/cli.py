"""Sub-commands of NCLS diagnosis (registered by inference/ncls/__main__.py)."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(commands: Any) -> None:
    """Add this stage's sub-commands; each sets handler to a function of the args."""
    del commands


def _unused(args: argparse.Namespace) -> int:
    return 0
