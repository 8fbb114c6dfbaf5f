"""Command line: ``python -m inference.phantom generate|sheet ...``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inference.phantom.case import LAYOUTS, SAGITTAL_SWEEP_MODES
from inference.phantom.sheet import sheet_for_video
from inference.phantom.writer import DATASET_KINDS, DOTA_LABEL_MODES, GenerateOptions, generate


def frame_size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` (e.g. ``850x648``) as a pair of ints."""
    width, sep, height = text.lower().partition("x")
    try:
        if not sep:
            raise ValueError
        return int(width), int(height)
    except ValueError:
        raise argparse.ArgumentTypeError(f"frame size must be WIDTHxHEIGHT, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the phantom's command line."""
    parser = argparse.ArgumentParser(
        prog="python -m inference.phantom",
        description="Synthetic neonatal cranial ultrasound phantom.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="render cases and write a data set")
    gen.add_argument("--cases", type=int, required=True)
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--blind-sweep", action="store_true")
    gen.add_argument("--frames-min", type=int, default=80)
    gen.add_argument("--frames-max", type=int, default=250)
    gen.add_argument("--width", type=int, default=640)
    gen.add_argument("--height", type=int, default=480)
    gen.add_argument("--severe-prevalence", type=float, default=0.12)
    gen.add_argument("--dataset", default="phantom")
    gen.add_argument("--dataset-kind", choices=DATASET_KINDS, default=None)
    gen.add_argument("--site", default="Phantom General Hospital")
    gen.add_argument(
        "--dota-every",
        type=int,
        default=5,
        help="write DOTA images and labels for every K-th frame (0: none)",
    )
    gen.add_argument(
        "--dota-labels",
        choices=DOTA_LABEL_MODES,
        default="views",
        help="views: boxes only on frames within a standard view's tolerance, other "
        "frames exported as negatives (default); all: every visible structure",
    )
    gen.add_argument("--no-overlays", action="store_true", help="no burned-in text and marks")
    gen.add_argument(
        "--sagittal-sweeps",
        choices=SAGITTAL_SWEEP_MODES,
        default="combined",
        help="combined: one sagittal sweep right to left (default); split: a left and "
        "a right sweep (<code>_sagittal_left.mp4 / _sagittal_right.mp4), each "
        "centred on its parasagittal plane and crossing the midline",
    )
    gen.add_argument(
        "--frame-size",
        type=frame_size,
        default=None,
        metavar="WxH",
        help="frame size, e.g. 850x648 or 1442x898 (the real machines'); "
        "overrides --width/--height",
    )
    gen.add_argument(
        "--machine-layout",
        choices=LAYOUTS,
        default="standard",
        help="real: a scanner's fuller info bars and, without --frame-size, a real "
        "machine's frame size (850x648 or 1442x898) per case",
    )
    gen.add_argument(
        "--speckle-correlation",
        type=float,
        default=None,
        metavar="RHO",
        help="AR(1) coefficient of the speckle between frames (0.99: about 4–5 grey "
        "levels of change per frame inside the sector, as real sweeps; "
        "default: today's fast-decorrelating speckle)",
    )
    gen.add_argument(
        "--lesion-masks",
        action="store_true",
        help="also write views/<code>_<VIEW>_lesion.png: per pixel, the IMAGE_LABELS "
        "index of the lesion it shows (0: none), named in the truth JSON",
    )
    gen.add_argument("--quiet", action="store_true")
    sheet = sub.add_parser("sheet", help="contact sheet of a video with its truth boxes")
    sheet.add_argument("video", type=Path)
    sheet.add_argument("--out", type=Path, required=True)
    sheet.add_argument("--tiles", type=int, default=12)
    sheet.add_argument("--columns", type=int, default=4)
    sheet.add_argument("--tile-width", type=int, default=320)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "generate":
            options = GenerateOptions(
                cases=args.cases,
                out=args.out,
                seed=args.seed,
                blind_sweep=args.blind_sweep,
                frames_min=args.frames_min,
                frames_max=args.frames_max,
                width=args.width,
                height=args.height,
                severe_prevalence=args.severe_prevalence,
                dataset=args.dataset,
                dataset_kind=args.dataset_kind,
                site=args.site,
                dota_every=args.dota_every,
                dota_labels=args.dota_labels,
                overlays=not args.no_overlays,
                sagittal_sweeps=args.sagittal_sweeps,
                speckle_correlation=args.speckle_correlation,
                machine_layout=args.machine_layout,
                frame_size=args.frame_size,
                lesion_masks=args.lesion_masks,
            )
            manifest = generate(options, progress=not args.quiet)
            print(manifest)
        else:
            print(
                sheet_for_video(
                    args.video,
                    args.out,
                    tiles=args.tiles,
                    columns=args.columns,
                    tile_width=args.tile_width,
                )
            )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
