"""``train-demo``: the lite demo models, trained on phantom data on this CPU.

Generates phantom cases (``inference.phantom``), trains the lite detector (stage 1's
``train_detector``) on their DOTA frames and the lite diagnosis folds on their standard
views, and marks every JSON they write with "demo model — not for clinical use".
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from .checkpoint import DEMO_NOTICE
from .train import TrainingConfig, reproducibility_run, train_diagnosis

#: The recipe of the shipped diagnosis demo models (see demo_models/diagnosis-lite/diagnosis.json).
DEMO_TRAIN_CASES = 240
DEMO_TRAIN_SEED = 3000
DEMO_SEVERE_PREVALENCE = 0.3
DEMO_FRAMES = (60, 80)
#: Phantom frame size: the lite model sees 96×96 crops, so 320×240 frames lose nothing it
#: uses and render 2–3× faster than 640×480.
DEMO_FRAME_SIZE = (320, 240)
DEMO_DIAGNOSIS = TrainingConfig(
    profile="lite",
    folds=5,
    epochs=20,
    batch_size=8,
    learning_rate=2e-3,
    image_size=64,
    seed=3000,
    demo=True,
)
#: The short reproducibility run recorded beside the demo models (and rerun by a test).
REPRO_CASES = 24
REPRO_SEED = 3100


def phantom_command(
    cases: int, out: Path | str, seed: int, prevalence: float, *, dota_every: int = 0
) -> list[str]:
    """The ``python -m inference.phantom generate`` arguments used for demo data."""
    return [
        "generate",
        "--cases",
        str(cases),
        "--out",
        str(out),
        "--seed",
        str(seed),
        "--severe-prevalence",
        str(prevalence),
        "--frames-min",
        str(DEMO_FRAMES[0]),
        "--frames-max",
        str(DEMO_FRAMES[1]),
        "--width",
        str(DEMO_FRAME_SIZE[0]),
        "--height",
        str(DEMO_FRAME_SIZE[1]),
        "--dota-every",
        str(dota_every),
        "--quiet",
    ]


def generate_phantom(
    cases: int, out: Path, seed: int, prevalence: float, *, dota_every: int = 0
) -> Path:
    """Generate phantom cases (not when ``out`` already holds a manifest); return the manifest."""
    from inference.phantom.cli import main as phantom_main

    manifest = out / "manifest.csv"
    if not manifest.is_file():
        status = phantom_main(phantom_command(cases, out, seed, prevalence, dota_every=dota_every))
        if status:
            raise RuntimeError(f"phantom generation failed with status {status}")
    return manifest


def _mark_demo(json_path: Path) -> None:
    record = json.loads(json_path.read_text(encoding="utf-8"))
    record.update(demo=True, notice=DEMO_NOTICE)
    json_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def train_demo(
    out: Path, *, work: Path | None = None, threads: int = 2, detection: bool = True
) -> dict[str, Any]:
    """Train the lite demo detector and diagnosis models into ``out``; return a summary."""
    torch.set_num_threads(threads)
    out = Path(out)
    report: dict[str, Any] = {"notice": DEMO_NOTICE}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(work) if work else Path(scratch)
        started = time.perf_counter()
        data = root / "phantom-train"
        generate_phantom(
            DEMO_TRAIN_CASES,
            data,
            DEMO_TRAIN_SEED,
            DEMO_SEVERE_PREVALENCE,
            dota_every=5 if detection else 0,
        )
        report["phantom_s"] = round(time.perf_counter() - started, 1)
        if detection:
            from inference.ncls.detection.train import TrainOptions, train_detector

            started = time.perf_counter()
            detector_json = train_detector(
                TrainOptions(
                    data=str(data),
                    out=str(out / "detector-lite"),
                    profile="lite",
                    seed=DEMO_TRAIN_SEED,
                    threads=threads,
                    max_minutes=20,
                ),
                command="python -m inference.ncls train-demo (detector)",
            )
            _mark_demo(Path(detector_json))
            report["detection"] = {
                "checkpoint": str(detector_json),
                "wall_time_s": round(time.perf_counter() - started, 1),
            }
        repro_data = root / "phantom-repro"
        generate_phantom(REPRO_CASES, repro_data, REPRO_SEED, DEMO_SEVERE_PREVALENCE)
        repro = reproducibility_run(repro_data, seed=REPRO_SEED, cases=REPRO_CASES)
        repro["phantom_command"] = "python -m inference.phantom " + " ".join(
            phantom_command(REPRO_CASES, "DIR", REPRO_SEED, DEMO_SEVERE_PREVALENCE)
        )
        started = time.perf_counter()
        summary = train_diagnosis(
            data,
            out / "diagnosis-lite",
            DEMO_DIAGNOSIS,
            command="python -m inference.ncls train-diagnosis "
            "--data DIR --out DIR --profile lite --folds 5 "
            f"--epochs {DEMO_DIAGNOSIS.epochs} --image-size {DEMO_DIAGNOSIS.image_size} "
            f"--lr {DEMO_DIAGNOSIS.learning_rate} "
            f"--batch-size {DEMO_DIAGNOSIS.batch_size} --seed {DEMO_DIAGNOSIS.seed} "
            f"--threads {threads} --demo",
            extra={
                "reproducibility": repro,
                "phantom_command": "python -m inference.phantom "
                + " ".join(
                    phantom_command(
                        DEMO_TRAIN_CASES, "DIR", DEMO_TRAIN_SEED, DEMO_SEVERE_PREVALENCE
                    )
                ),
            },
        )
        report["diagnosis"] = {
            "out_of_fold_auc": summary.get("out_of_fold_auc"),
            "wall_time_s": round(time.perf_counter() - started, 1),
        }
    return report
