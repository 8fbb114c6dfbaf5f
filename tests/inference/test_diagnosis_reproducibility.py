"""Retraining reproduces the shipped demo models' recorded reproducibility run (DESIGN.md)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from inference.ncls.diagnosis.train import reproducibility_run

SHIPPED = Path(__file__).resolve().parents[2] / "inference/ncls/demo_models/diagnosis-lite/diagnosis.json"


@pytest.mark.slow
def test_short_retraining_reproduces_recorded_metrics(tmp_path: Path) -> None:
    if not SHIPPED.is_file():
        pytest.skip("no shipped diagnosis demo models")
    from inference.phantom.cli import main as phantom_main

    recorded = json.loads(SHIPPED.read_text())["reproducibility"]
    words = shlex.split(recorded["phantom_command"])[3:]  # drop "python -m inference.phantom"
    words[words.index("DIR")] = str(tmp_path / "data")
    assert phantom_main(words) == 0
    config = recorded["config"]
    rerun = reproducibility_run(tmp_path / "data", profile=config["profile"], seed=config["seed"],
                                cases=config["cases"], image_size=config["image_size"])
    assert rerun["data_hash"] == recorded["data_hash"], "the phantom no longer renders the same bytes"
    for key in ("final_train_loss", "validation_auc", "validation_mean_severe_probability"):
        assert rerun[key] == pytest.approx(recorded[key], abs=recorded["tolerance"]), key
