"""Sub-commands of NCLS diagnosis (registered by inference/ncls/__main__.py).

``train-diagnosis``, ``evaluate-diagnosis``, ``evaluate-heatmaps``, ``run`` (the whole pipeline
for one case), ``export-onnx`` and ``train-demo``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from inference.ncls.backends import ENGINE_HELP, ENGINES
from inference.ncls.diagnosis.model import PROFILES
from inference.ncls.sweep_args import add_video_arguments, videos_of

TTA_HELP = (
    "test-time passes: 1 = none; default: the model's own (published: the authors' 10 "
    "seeded random augmentations; ours: the image and its mirror, i.e. any N > 1)"
)


def _command_line(args: argparse.Namespace) -> str:
    """The command that reproduces ``args`` (every option spelled out, defaults included)."""
    words = ["python", "-m", "inference.ncls", args.command]
    for name, value in sorted(vars(args).items()):
        if name in {"command", "handler"} or value is None or value is False:
            continue
        option = "--" + name.replace("_", "-")
        if value is True:
            words.append(option)
        elif isinstance(value, list):
            words.extend(str(v) for v in value)
        else:
            words.extend([option, str(value)])
    return shlex.join(words)


def add_commands(commands: Any) -> None:
    """Add this stage's sub-commands; each sets handler to a function of the args."""
    train = commands.add_parser(
        "train-diagnosis", help="train the diagnosis fold models from a case manifest"
    )
    train.add_argument(
        "--data", type=Path, required=True, help="directory with manifest.csv, or the CSV itself"
    )
    train.add_argument(
        "--out", type=Path, required=True, help="output directory for the fold checkpoints"
    )
    train.add_argument("--profile", choices=sorted(PROFILES), default="lite")
    train.add_argument("--folds", type=int, default=5)
    train.add_argument("--epochs", type=int, default=None, help="default: 45 full, 30 lite")
    train.add_argument("--batch-size", type=int, default=None, help="default: 16")
    train.add_argument(
        "--lr", type=float, default=None, help="peak learning rate (default by profile)"
    )
    train.add_argument("--image-size", type=int, default=None, help="default: 256 full, 96 lite")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="cpu")
    train.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    train.add_argument(
        "--image-labels",
        type=Path,
        default=None,
        help="CSV code,view,conditions; default: each image gets its case's conditions",
    )
    train.add_argument(
        "--demo", action="store_true", help="mark the models as demo models (phantom data)"
    )
    train.add_argument(
        "--reproducibility-cases",
        type=int,
        default=0,
        help="also record a short deterministic reproducibility run on this many cases",
    )
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser(
        "evaluate-diagnosis", help="case-level AUC, Se, Sp of a model directory"
    )
    evaluate.add_argument("--models", type=Path, required=True)
    evaluate.add_argument(
        "--data", type=Path, required=True, help="directory with manifest.csv, or the CSV"
    )
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument("--out", type=Path, default=None, help="write the report as JSON here")
    evaluate.add_argument(
        "--from-videos",
        action="store_true",
        help="run the whole pipeline on each case's sweep videos (MODELS must hold a "
        "detector too) instead of diagnosing the manifest's view images",
    )
    evaluate.add_argument("--max-cases", type=int, default=None)
    evaluate.add_argument("--tta", type=int, default=None, help=TTA_HELP)
    evaluate.set_defaults(handler=_evaluate)

    heat = commands.add_parser(
        "evaluate-heatmaps",
        help="do the Finer-CAM heatmaps point at the lesion? pointing game and mass share against "
        "chance on phantom data generated with --lesion-masks",
    )
    heat.add_argument("--models", type=Path, required=True, help="diagnosis model directory")
    heat.add_argument(
        "--data",
        type=Path,
        required=True,
        help="phantom data set (python -m inference.phantom generate ... --lesion-masks)",
    )
    heat.add_argument("--cases", type=int, default=None, help="the first N cases of the manifest")
    heat.add_argument("--device", default="cpu")
    heat.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    heat.add_argument(
        "--target",
        choices=("known", "lesion", "predicted"),
        default="known",
        help="known: each lesion's own label (default); lesion/predicted: the label the "
        "model picks, its most likely lesion label / most likely label",
    )
    heat.add_argument(
        "--stages",
        type=int,
        nargs="+",
        default=None,
        help="backbone stages counted from the end (-1: last); default: the platform's",
    )
    heat.add_argument(
        "--whole-square",
        action="store_true",
        help="grad-cam's scaling over the whole input square instead of within the sector",
    )
    heat.add_argument(
        "--scale", type=int, default=1, help="CAM pass at this multiple of the input size"
    )
    heat.add_argument(
        "--legacy",
        action="store_true",
        help="the first version's heatmaps: last stage, most likely label, whole square",
    )
    heat.add_argument(
        "--out", type=Path, default=None, help="write the report (with every score) as JSON"
    )
    heat.set_defaults(handler=_evaluate_heatmaps)

    run = commands.add_parser(
        "run", help="whole NCLS pipeline for one case: views, diagnosis, heatmaps"
    )
    add_video_arguments(run)
    run.add_argument(
        "--models",
        type=Path,
        required=True,
        help="model root (diagnosis*/ and detector*/) or a published model directory",
    )
    run.add_argument("--out", type=Path, required=True)
    run.add_argument("--device", default="cpu")
    run.add_argument("--no-heatmaps", action="store_true")
    run.add_argument("--tta", type=int, default=None, help=TTA_HELP)
    run.add_argument("--engine", choices=ENGINES, default="auto", help=ENGINE_HELP)
    run.add_argument(
        "--detections-out",
        type=Path,
        default=None,
        metavar="FILE.jsonl",
        help="also write every frame's detections as JSON Lines",
    )
    run.set_defaults(handler=_run)

    export = commands.add_parser(
        "export-onnx",
        help="export the diagnosis models (and the detector, if present) to ONNX",
        description="Our models: graphs into --out. A published model directory: the detector "
        "and the five folds into --out (default MODEL_DIR/onnx, where --engine auto finds "
        "them), with the SHA-256 of every graph and of the weights it came from.",
    )
    export.add_argument("--models", type=Path, required=True)
    export.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output directory (required for our models; published: default MODEL_DIR/onnx)",
    )
    export.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    export.set_defaults(handler=_export)

    demo = commands.add_parser(
        "train-demo", help="train the lite demo models on phantom data on this CPU"
    )
    demo.add_argument("--out", type=Path, default=Path("inference/ncls/demo_models"))
    demo.add_argument(
        "--work",
        type=Path,
        default=None,
        help="where phantom data is generated (default: a temp dir)",
    )
    demo.add_argument("--threads", type=int, default=2)
    demo.add_argument("--skip-detection", action="store_true")
    demo.set_defaults(handler=_train_demo)


def _train(args: argparse.Namespace) -> int:
    from inference.ncls.diagnosis.train import (
        TrainingConfig,
        reproducibility_run,
        set_threads,
        train_diagnosis,
    )

    set_threads(args.threads)
    config = TrainingConfig(
        profile=args.profile,
        folds=args.folds,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        image_size=args.image_size,
        seed=args.seed,
        device=args.device,
        demo=args.demo,
    )
    extra = {}
    if args.reproducibility_cases:
        extra["reproducibility"] = reproducibility_run(
            args.data, profile=args.profile, seed=args.seed, cases=args.reproducibility_cases
        )
    summary = train_diagnosis(
        args.data,
        args.out,
        config,
        image_labels=args.image_labels,
        command=_command_line(args),
        extra=extra,
    )
    print(
        json.dumps(
            {
                "folds": summary["folds"],
                "out_of_fold_auc": summary.get("out_of_fold_auc"),
                "wall_time_s": summary["wall_time_s"],
            },
            indent=2,
        )
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from inference.ncls.evaluation import evaluate_manifest, evaluate_videos

    manifest = args.data / "manifest.csv" if args.data.is_dir() else args.data
    if args.from_videos:
        report = evaluate_videos(
            args.models, manifest, device=args.device, max_cases=args.max_cases, tta=args.tta
        )
    else:
        report = evaluate_manifest(args.models, manifest, device=args.device, tta=args.tta)
    report["command"] = _command_line(args)
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def _evaluate_heatmaps(args: argparse.Namespace) -> int:
    import torch

    from inference.ncls.diagnosis.heatmaps import DEFAULT_SETTINGS, LEGACY_SETTINGS, CamSettings
    from inference.ncls.diagnosis.localisation import evaluate_heatmaps

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.legacy:
        settings = LEGACY_SETTINGS
    else:
        settings = CamSettings(
            stages=tuple(args.stages) if args.stages else DEFAULT_SETTINGS.stages,
            target="lesion" if args.target == "known" else args.target,
            sector_only=not args.whole_square,
            scale=args.scale,
        )
    known = args.target == "known"
    if args.legacy and args.target == "lesion":
        print(
            "error: --legacy targets the most likely label (use --target known or predicted)",
            file=sys.stderr,
        )
        return 2
    try:
        report = evaluate_heatmaps(
            args.models,
            args.data,
            cases=args.cases,
            settings=settings,
            known_target=known,
            device=args.device,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report["command"] = _command_line(args)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k != "scores"}, indent=2))
    return 0


#: Exit status of ``run`` when stage 1 finds no standard view (an outcome, not a crash).
EXIT_NO_VIEW = 3


def _run(args: argparse.Namespace) -> int:
    from inference.ncls.pipeline import RESULT_FILE, NclsPipeline, NoStandardViewError

    videos, orientations = videos_of(args)
    try:
        pipeline = NclsPipeline.load(args.models, args.device, tta=args.tta, engine=args.engine)
    except ValueError as exc:  # an engine this model or device cannot use
        print(f"run: {exc}", file=sys.stderr)
        return 2
    try:
        result = pipeline.run_videos(
            videos,
            out_dir=args.out,
            heatmaps=not args.no_heatmaps,
            orientations=orientations,
            detections_out=args.detections_out,
        )
    except NoStandardViewError as exc:
        outcome = {
            "outcome": "no standard view",
            "diagnosed": False,
            "reasons": exc.reasons,
            "videos": exc.extraction.get("videos", []),
        }
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / RESULT_FILE).write_text(json.dumps(outcome, indent=2) + "\n", encoding="utf-8")
        print(
            f"run: no standard view was found in the videos, so the case was not diagnosed; "
            f"the reasons per view are in {args.out / RESULT_FILE}",
            file=sys.stderr,
        )
        return EXIT_NO_VIEW
    found = sorted(result.view_frames)
    print(
        json.dumps(
            {
                "result": str(args.out / RESULT_FILE),
                "views": found,
                "severe": result.diagnosis.severe,
                "severe_probability": result.diagnosis.severe_probability,
                "rule": str(result.diagnosis.rule),
                "timings_s": result.timings_s,
            },
            indent=2,
        )
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    from inference.ncls.backends import PUBLISHED, profile_of, resolve_models
    from inference.ncls.diagnosis.onnx import export_directory

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if profile_of(args.models) == PUBLISHED:
        from inference.ncls.published.model_dir import ModelDirError
        from inference.ncls.published.onnx import export_published

        try:
            sidecar = export_published(args.models, args.out)
        except (ModelDirError, OSError) as exc:
            print(f"export-onnx: refused: {exc}", file=sys.stderr)
            return 2
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        graphs = [record["detector"]] if record["detector"] else []
        graphs += record["diagnosis"]["folds"]
        print("\n".join(str(sidecar.parent / g["onnx"]) for g in graphs))
        return 0
    if args.out is None:
        print("export-onnx: --out is required for this model", file=sys.stderr)
        return 2
    diagnosis, detector = resolve_models(args.models)
    written = [str(p) for p in export_directory(diagnosis, args.out / "diagnosis")]
    if detector is not None:
        from inference.ncls.detection.onnx import export_onnx

        written.append(str(export_onnx(detector, args.out / "detection")))
    print("\n".join(written))
    return 0


def _train_demo(args: argparse.Namespace) -> int:
    from inference.ncls.diagnosis.demo import train_demo

    report = train_demo(
        args.out, work=args.work, threads=args.threads, detection=not args.skip_detection
    )
    print(json.dumps(report, indent=2))
    return 0
