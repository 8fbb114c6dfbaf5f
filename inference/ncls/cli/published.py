"""``import-published``: the authors' checkpoints → a platform model directory.

Registered by ``inference/ncls/__main__.py``. A refused input (a file that is not a
checkpoint, damaged, would run code, or holds other weights; an occupied ``--out``) is a
user's problem, not a bug, so it ends with one line on stderr and exit status 2 — the
argparse convention for bad usage — instead of a traceback; so does an I/O failure.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

#: Exit status of a refused input (as argparse uses for a bad command line).
EXIT_REFUSED = 2


def add_commands(commands: Any) -> None:
    """Add ``import-published`` to the sub-command parsers ``commands``."""
    parser = commands.add_parser(
        "import-published",
        help="convert the NCLS authors' published checkpoints into a model directory",
        description="Read the authors' detector checkpoint and diagnosis folds fold_1.pth … "
        "fold_5.pth (safely: tensors only), check every key and shape, and write them as "
        "safetensors with a published.json recording the SHA-256 of each source file.",
    )
    parser.add_argument(
        "--detection",
        type=Path,
        required=True,
        metavar="FILE",
        help="the authors' detector checkpoint (.pth)",
    )
    parser.add_argument(
        "--diagnosis",
        type=Path,
        required=True,
        metavar="DIR",
        help="directory holding fold_1.pth … fold_5.pth",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="MODEL_DIR",
        help="new model directory (must not exist or be empty)",
    )
    parser.add_argument(
        "--onnx",
        action="store_true",
        help="also export the networks to ONNX into MODEL_DIR/onnx (as export-onnx does), "
        "so that --engine auto runs them with onnxruntime",
    )
    parser.set_defaults(handler=_import_published)


def _import_published(args: argparse.Namespace) -> int:
    from inference.ncls.published.checkpoints import CheckpointError
    from inference.ncls.published.model_dir import ModelDirError, import_published

    words = ["python", "-m", "inference.ncls", "import-published"]
    for option in ("detection", "diagnosis", "out"):
        words += [f"--{option}", str(getattr(args, option))]
    if getattr(args, "onnx", False):
        words.append("--onnx")
    try:
        record_path = import_published(
            args.detection, args.diagnosis, args.out, command=shlex.join(words)
        )
    except (CheckpointError, ModelDirError) as error:
        print(f"import-published: refused: {error}", file=sys.stderr)
        return EXIT_REFUSED
    except OSError as error:  # unreadable source, unwritable --out, full disk: say so plainly
        print(f"import-published: failed: {error}", file=sys.stderr)
        return EXIT_REFUSED
    record = json.loads(record_path.read_text(encoding="utf-8"))
    summary = {"model_dir": str(args.out), "version": record["version"], "profile": "published"}
    if getattr(args, "onnx", False):
        from inference.ncls.published.onnx import export_published

        try:
            summary["onnx"] = str(export_published(args.out))
        except OSError as error:
            print(f"import-published: ONNX export failed: {error}", file=sys.stderr)
            return EXIT_REFUSED
    print(json.dumps(summary, indent=2))
    return 0
