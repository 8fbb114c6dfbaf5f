"""Sub-commands of NCLS detection (registered by inference/ncls/__main__.py)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any

import torch

from inference.ncls.backends import ENGINE_HELP, ENGINES, PUBLISHED, profile_of
from inference.ncls.sweep_args import add_video_arguments, videos_of


def add_commands(commands: Any) -> None:
    """Add ``train-detector``, ``extract`` and ``evaluate-detector``."""
    train = commands.add_parser(
        "train-detector", help="train the rotated anatomy detector on DOTA data"
    )
    train.add_argument(
        "--data", required=True, help="folder with images/ and labelTxt/ (or dota/ inside)"
    )
    train.add_argument("--out", required=True, help="checkpoint folder to write")
    train.add_argument("--profile", choices=("lite", "full"), default="lite")
    train.add_argument("--epochs", type=int, default=12)
    train.add_argument("--batch-size", type=int, default=8)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="cpu")
    train.add_argument("--lr", type=float, default=4e-4)
    train.add_argument("--max-images", type=int, default=None, help="use at most this many images")
    train.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    train.add_argument(
        "--init",
        default=None,
        help="start from this detector checkpoint (folder or detector.json) "
        "instead of from scratch",
    )
    train.add_argument(
        "--quality-floor",
        type=float,
        default=1.0,
        help="score target = IoU × (floor + (1 − floor) × the label's plane quality); "
        "1 (default): the IoU, plane quality unused",
    )
    train.add_argument(
        "--class-quality-floor",
        action="append",
        default=[],
        metavar="CLASS=FLOOR",
        help="a floor for one class, overriding --quality-floor (repeatable)",
    )
    train.add_argument(
        "--workers",
        type=int,
        default=0,
        help="data-loader worker processes (0: in the main process)",
    )
    train.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop after this much training time (the cosine schedule follows time)",
    )
    train.set_defaults(handler=_train)

    ext = commands.add_parser("extract", help="standard views from sweep videos")
    add_video_arguments(ext)
    ext.add_argument(
        "--detector",
        required=True,
        help="local checkpoint folder or detector.json, or a published model directory",
    )
    ext.add_argument(
        "--detections-out",
        default=None,
        metavar="FILE.jsonl",
        help="also write every frame's detections (class, score, rotated box in frame pixels)",
    )
    ext.add_argument("--out", required=True)
    ext.add_argument("--device", default="cpu")
    ext.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), default="fp32")
    ext.add_argument("--batch-size", type=int, default=16)
    ext.add_argument(
        "--threads", type=int, default=None, help="CPU threads (torch and onnxruntime)"
    )
    ext.add_argument("--engine", choices=ENGINES, default="auto", help=ENGINE_HELP)
    ext.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="one score threshold for every class (default: the checkpoint's calibrated "
        "per-class ones, else 0.6)",
    )
    ext.add_argument(
        "--sagittal-starts-left",
        action="store_true",
        help="sagittal sweeps start on the left (default: right, so the first side is RPSV)",
    )
    ext.set_defaults(handler=_extract)

    ev = commands.add_parser(
        "evaluate-detector",
        help="rotated mAP@0.5 per class on DOTA data "
        "(and, with --phantom, views found and frame error on phantom cases)",
    )
    ev.add_argument(
        "--data", required=True, help="DOTA folder, or a phantom output folder with --phantom"
    )
    ev.add_argument(
        "--phantom", action="store_true", help="DATA is a phantom folder: also run extract per case"
    )
    ev.add_argument("--max-cases", type=int, default=None)
    ev.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="one score threshold for --phantom (default: the checkpoint's calibrated "
        "per-class ones, else 0.6)",
    )
    ev.add_argument(
        "--detector", required=True, help="checkpoint folder or a published model directory"
    )
    ev.add_argument("--device", default="cpu")
    ev.add_argument("--max-images", type=int, default=None)
    ev.add_argument("--out", default=None, help="write the result as JSON here")
    ev.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ev.set_defaults(handler=_evaluate)

    cal = commands.add_parser(
        "calibrate-detector",
        help="choose the score threshold (<= 0.6) by detection F1 "
        "on DOTA data that is neither training nor test data; stored in the checkpoint JSON",
    )
    cal.add_argument("--data", required=True)
    cal.add_argument("--detector", required=True)
    cal.add_argument("--device", default="cpu")
    cal.add_argument("--threads", type=int, default=None)
    cal.add_argument("--max-images", type=int, default=None)
    cal.set_defaults(handler=_calibrate)


def _train_command_line(args: argparse.Namespace) -> str:
    """The training command as given (rebuilt from the parsed options, so it is complete)."""
    parts = ["python", "-m", "inference.ncls", "train-detector"]
    for name in (
        "data",
        "out",
        "profile",
        "epochs",
        "batch_size",
        "seed",
        "device",
        "lr",
        "max_images",
        "threads",
        "workers",
        "init",
        "quality_floor",
        "max_minutes",
    ):
        value = getattr(args, name)
        if value is not None:
            parts += [f"--{name.replace('_', '-')}", str(value)]
    for value in args.class_quality_floor:
        parts += ["--class-quality-floor", value]
    return " ".join(shlex.quote(p) for p in parts)


def _class_floor(text: str) -> tuple[str, float]:
    """``CLASS=FLOOR`` of ``--class-quality-floor``; the floor's range is checked by training."""
    name, _, value = text.partition("=")
    try:
        return name.strip(), float(value)
    except ValueError:  # no "=" leaves value empty, which float() refuses too
        raise SystemExit(f"--class-quality-floor wants CLASS=FLOOR, got {text!r}") from None


def _train(args: argparse.Namespace) -> int:
    from inference.ncls.detection.train import TrainOptions, train_detector

    opts = TrainOptions(
        data=args.data,
        out=args.out,
        profile=args.profile,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        device=args.device,
        lr=args.lr,
        max_images=args.max_images,
        threads=args.threads,
        workers=args.workers,
        init=args.init,
        quality_floor=args.quality_floor,
        class_quality_floors=tuple(_class_floor(v) for v in args.class_quality_floor),
        max_minutes=args.max_minutes,
    )
    path = train_detector(opts, command=_train_command_line(args))
    print(path)
    return 0


def _extract(args: argparse.Namespace) -> int:
    from inference.ncls.backends import Options, load_detector
    from inference.ncls.detection.checkpoint import CheckpointError
    from inference.ncls.detection.extract import extract
    from inference.ncls.published.checkpoints import CheckpointError as PublishedCheckpointError
    from inference.ncls.published.model_dir import ModelDirError

    if args.threads:
        torch.set_num_threads(args.threads)
    videos, orientations = videos_of(args)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype]
    try:
        options = Options(args.device, dtype, args.threshold, engine=args.engine)
        detector, record = load_detector(args.detector, options)
    except (CheckpointError, PublishedCheckpointError, ModelDirError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = extract(
        videos,
        detector,
        args.out,
        batch_size=args.batch_size,
        sagittal_starts_right=not args.sagittal_starts_left,
        checkpoint=record,
        orientations=orientations,
        detections_out=args.detections_out,
    )
    found = [v for v, r in result["views"].items() if r["status"] == "found"]
    print(
        f"{len(found)} of 6 views found ({', '.join(found) or 'none'}); wrote {args.out}/views.json"
        + (f" and {args.detections_out}" if args.detections_out else "")
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from inference.ncls.detection.checkpoint import load_detector
    from inference.ncls.detection.data import list_pairs, load_samples
    from inference.ncls.detection.train import evaluate_samples

    if args.threads:
        torch.set_num_threads(args.threads)
    if profile_of(args.detector) == PUBLISHED:
        return _evaluate_frame_detector(args)
    model, record = load_detector(args.detector, args.device)
    if args.phantom:
        from inference.ncls.detection.phantom_eval import evaluate_phantom
        from inference.ncls.detection.predict import Detector, checkpoint_threshold

        threshold = checkpoint_threshold(record, args.threshold)
        report = evaluate_phantom(
            args.data,
            Detector(model, device=args.device, threshold=threshold),
            max_cases=args.max_cases,
            max_images=args.max_images,
        )
        text = json.dumps(report, indent=2)
        if args.out:
            with open(args.out, "w") as handle:
                handle.write(text + "\n")
        print(json.dumps(report["summary"], indent=2))
        return 0
    pairs = list_pairs(args.data)
    if args.max_images:
        pairs = pairs[: args.max_images]
    samples = load_samples(pairs, model.cfg.input_size)
    result = evaluate_samples(model, samples, torch.device(args.device)).to_json()
    text = json.dumps(result, indent=2)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")
    print(text)
    return 0


def _evaluate_frame_detector(args: argparse.Namespace) -> int:
    """``evaluate-detector`` for a detector with its own input processing (published):
    views found on phantom cases, or rotated mAP in image pixels on DOTA data."""
    from inference.ncls.backends import Options, load_detector
    from inference.ncls.detection.data import list_pairs
    from inference.ncls.detection.evaluate import frame_detector_map

    if args.phantom:
        from inference.ncls.detection.phantom_eval import evaluate_phantom

        detector, _ = load_detector(args.detector, Options(args.device, threshold=args.threshold))
        report = evaluate_phantom(
            args.data, detector, max_cases=args.max_cases, max_images=args.max_images
        )
        result = report["summary"]
    else:
        # every kept (query, class) pair is ranked for the mAP, as for our own detector
        detector, _ = load_detector(args.detector, Options(args.device, threshold=0.0))
        pairs = list_pairs(args.data)[: args.max_images or None]
        report = result = frame_detector_map(detector, pairs).to_json()
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(json.dumps(report, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from inference.ncls.detection.checkpoint import load_detector, resolve
    from inference.ncls.detection.data import data_hash, list_pairs, load_samples
    from inference.ncls.detection.evaluate import calibrate_class_thresholds, calibrate_threshold
    from inference.ncls.detection.train import predict_samples

    if args.threads:
        torch.set_num_threads(args.threads)
    model, record = load_detector(args.detector, args.device)
    pairs = list_pairs(args.data)[: args.max_images or None]
    samples = load_samples(pairs, model.cfg.input_size)
    preds = predict_samples(model, samples, torch.device(args.device))
    truths = [(s.boxes, s.labels) for s in samples]
    best, f1 = calibrate_threshold(preds, truths)
    per_class, per_class_f1 = calibrate_class_thresholds(preds, truths)
    meta_path, _ = resolve(args.detector)
    record["score_threshold"] = best
    record["score_thresholds"] = per_class
    record["calibration"] = {
        "data_hash": data_hash(pairs),
        "images": len(samples),
        "f1_by_threshold": {str(k): v for k, v in f1.items()},
        "class_f1_by_threshold": {
            c: {str(k): v for k, v in t.items()} for c, t in per_class_f1.items()
        },
    }
    meta_path.write_text(json.dumps(record, indent=2) + "\n")
    print(
        json.dumps({"score_threshold": best, "score_thresholds": per_class, "f1_by_threshold": f1})
    )
    return 0
