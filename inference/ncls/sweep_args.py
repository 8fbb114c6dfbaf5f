"""Sweep videos on the command line, with the orientation each was acquired in.

Why: a scanner protocol gives one coronal and two sagittal sweeps (left and right); a
one-sided sagittal sweep cannot tell its side from its pictures (the hemispheres mirror each
other), so the user says it. Two equivalent forms, shared by ``extract`` and ``run``:

    python -m inference.ncls run coronal=COR.mp4 sagittal_left=L.mp4 sagittal_right=R.mp4 ...
    python -m inference.ncls run COR.mp4 SAG_L.mp4 SAG_R.mp4 \\
        --orientation coronal --orientation sagittal_left --orientation sagittal_right ...

A bare path (today's form, e.g. ``COR.mp4 SAG.mp4``) leaves the orientation to be decided from
the frames; ``auto`` does the same explicitly. A folder of DICOM cines as a scanner exports it
stands for the video list, in acquisition order, each with the orientation its series
description names (``--orientation``, once per cine, overrides what the descriptions say)::

    python -m inference.ncls run --dicom-dir EXPORT/ --models MODELS --out OUT
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.labels import DECLARED_ORIENTATIONS

AUTO = "auto"


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """The positional ``VIDEO`` list (or ``--dicom-dir``) and the repeatable ``--orientation``."""
    names = ", ".join(DECLARED_ORIENTATIONS)
    parser.add_argument(
        "videos",
        nargs="*",
        metavar="VIDEO",
        help=f"a sweep video, or ORIENTATION=PATH with ORIENTATION one of: {names}",
    )
    parser.add_argument(
        "--dicom-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="instead of VIDEO: every DICOM cine under DIR, in acquisition order, each as the "
        "orientation its series description names (COR, SAG L ...; else from its frames)",
    )
    parser.add_argument(
        "--orientation",
        action="append",
        default=[],
        choices=(*DECLARED_ORIENTATIONS, AUTO),
        help="the orientation of each VIDEO in turn (repeat once per video; "
        "auto: decide from its frames)",
    )


def split_spec(spec: str) -> tuple[Path, str | None]:
    """``ORIENTATION=PATH`` → (path, orientation); anything else is a path, orientation None."""
    name, sep, rest = spec.partition("=")
    if sep and name in DECLARED_ORIENTATIONS:
        return Path(rest), name
    return Path(spec), None


def videos_of(args: argparse.Namespace) -> tuple[list[Path], list[str | None]]:
    """The videos and their declared orientations; raise ``SystemExit`` on contradictions."""
    dicom_dir = getattr(args, "dicom_dir", None)
    if dicom_dir is not None and args.videos:
        raise SystemExit("error: give either VIDEO arguments or --dicom-dir, not both")
    if dicom_dir is not None:
        parsed = _dicom_videos(Path(dicom_dir))
        names = [str(p) for p, _ in parsed]
    elif args.videos:
        parsed = [split_spec(str(v)) for v in args.videos]
        names = [str(v) for v in args.videos]
    else:
        raise SystemExit("error: give at least one VIDEO, or --dicom-dir DIR")
    given: list[str] = list(getattr(args, "orientation", []) or [])
    if given and len(given) != len(parsed):
        raise SystemExit(
            f"error: {len(parsed)} video(s) but {len(given)} --orientation value(s); "
            "give one per video, in order"
        )
    paths = [p for p, _ in parsed]
    declared: list[str | None] = [o for _, o in parsed]
    for k, option in enumerate(given):
        value = None if option == AUTO else option
        # a series description is a guess the user may correct; ORIENTATION=PATH is not
        if dicom_dir is None and declared[k] is not None and value != declared[k]:
            raise SystemExit(
                f"error: {names[k]} is declared {declared[k]} but --orientation says {option}"
            )
        declared[k] = value
    return paths, declared


def _dicom_videos(directory: Path) -> list[tuple[Path, str | None]]:
    """The cines of a DICOM folder with the orientations they name; files left out are listed
    on stderr, and a folder without a cine is an error naming why."""
    from core.video import VideoError, dicom_cines

    try:
        folder = dicom_cines(directory)
    except VideoError as exc:
        raise SystemExit(f"error: --dicom-dir {exc}") from None
    for path, reason in folder.skipped.items():
        print(f"--dicom-dir: left out {path}: {reason}", file=sys.stderr)
    paths, orientations = folder.videos()
    return list(zip(paths, orientations, strict=True))
