"""Determinism of the diagnosis training code path and of the phantom's bytes.

What this checks, and what it does not: the shipped diagnosis demo models record a short
run beside them (``diagnosis.json``'s ``reproducibility`` block): the phantom command of 24
cases, then one epoch of fold 0 of 3 at 64 px on one thread with deterministic algorithms.
This test reruns it and requires the same manifest and image bytes (``data_hash``) and the
same final loss, validation AUC and mean severe probability within 1e-6, on the locked
dependencies (requirements.lock). The run is a one-epoch stand-in whose AUC is 0.5: it has
learnt nothing, so this does NOT show that retraining reproduces the shipped fold models'
recorded metrics (5 folds × 20 epochs, ~270 s on 2 threads, trained on phantom data of an
earlier sweep renderer); it shows that the phantom and the training code are deterministic.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from inference.ncls.diagnosis.train import reproducibility_run
from inference.phantom.cli import main as phantom_main

SHIPPED = (
    Path(__file__).resolve().parents[2] / "inference/ncls/demo_models/diagnosis-lite/diagnosis.json"
)


@pytest.mark.slow
def test_training_code_path_and_phantom_bytes_are_deterministic_on_the_locked_dependencies(
    tmp_path: Path,
) -> None:
    assert SHIPPED.is_file(), f"the shipped diagnosis demo models' record is missing: {SHIPPED}"
    recorded = json.loads(SHIPPED.read_text())["reproducibility"]
    words = shlex.split(recorded["phantom_command"])[3:]  # drop "python -m inference.phantom"
    words[words.index("DIR")] = str(tmp_path / "data")
    assert phantom_main(words) == 0
    config = recorded["config"]
    rerun = reproducibility_run(
        tmp_path / "data",
        profile=config["profile"],
        seed=config["seed"],
        cases=config["cases"],
        image_size=config["image_size"],
    )
    assert rerun["data_hash"] == recorded["data_hash"], (
        "the phantom no longer renders the same bytes"
    )
    for key in ("final_train_loss", "validation_auc", "validation_mean_severe_probability"):
        assert rerun[key] == pytest.approx(recorded[key], abs=recorded["tolerance"]), key
