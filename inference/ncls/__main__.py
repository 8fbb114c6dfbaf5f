"""Command line of the NCLS library: ``python -m inference.ncls <command> ...``.

Stage 1 (detection, view extraction) and stage 2 (diagnosis) each register their own
sub-commands, so neither has to know the other's options.
"""

from __future__ import annotations

import argparse
import sys

from inference.ncls.cli import detection as detection_cli
from inference.ncls.cli import diagnosis as diagnosis_cli
from inference.ncls.cli import published as published_cli


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every stage's sub-commands."""
    parser = argparse.ArgumentParser(prog="python -m inference.ncls", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    detection_cli.add_commands(commands)
    diagnosis_cli.add_commands(commands)
    published_cli.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; its return value is the exit status."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
