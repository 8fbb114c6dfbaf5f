"""Training command, fold checkpoints, ensemble inference and the pipeline's result.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from inference.ncls.__main__ import main
from inference.ncls.diagnosis.data import load_rgb, read_manifest
from inference.ncls.diagnosis.predict import DiagnosisEnsemble
from inference.ncls.diagnosis.rules import DecidingRule
from inference.ncls.diagnosis.toydata import write_toy_manifest
from inference.ncls.pipeline import RESULT_FILE, NclsPipeline

torch.set_num_threads(2)
NOTICE = "demo model — not for clinical use"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("train")
    manifest = write_toy_manifest(root / "data", 12, seed=5)
    status = main(
        [
            "train-diagnosis",
            "--data",
            str(root / "data"),
            "--out",
            str(root / "models"),
            "--folds",
            "2",
            "--epochs",
            "1",
            "--image-size",
            "64",
            "--seed",
            "1",
            "--demo",
        ]
    )
    assert status == 0
    return manifest, root / "models"


def test_training_writes_verified_fold_checkpoints(trained: tuple[Path, Path]) -> None:
    _, models = trained
    summary = json.loads((models / "diagnosis.json").read_text())
    assert summary["notice"] == NOTICE and summary["demo"] is True
    assert len(summary["folds"]) == 2 and len(summary["data_hash"]) == 64
    for fold in range(2):
        record = json.loads((models / f"fold_{fold}.json").read_text())
        assert record["notice"] == NOTICE
        assert record["image_labels"] == [
            "normal",
            "ivh",
            "ependymal_cyst",
            "ventricular_dilation",
            "hydrocephalus",
            "pvl",
        ]
        assert set(record["validation"]) >= {"auc", "sensitivity", "specificity"}
        assert record["architecture"]["profile"] == "lite"
        assert record["command"].startswith("python -m inference.ncls train-diagnosis")


def test_pipeline_on_extracted_views_writes_result(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    manifest, models = trained
    record = read_manifest(manifest)[1]
    views = {view.value: load_rgb(path) for view, path in record.views.items()}
    pipeline = NclsPipeline.load(models)
    result = pipeline.diagnose_views(views, out_dir=tmp_path)
    assert 0.0 <= result.diagnosis.severe_probability <= 1.0
    assert isinstance(result.diagnosis.rule, DecidingRule)
    assert set(result.diagnosis.image_labels) == set(views) == set(result.heatmaps)
    saved = json.loads((tmp_path / RESULT_FILE).read_text())
    assert saved["notice"] == NOTICE
    assert len(saved["model_versions"]["diagnosis"]) == 2
    assert {"diagnosis", "heatmaps", "total"} <= set(saved["timings_s"])
    assert all((tmp_path / f"heatmap_{v}.png").is_file() for v in views)


def test_ensemble_rejects_unknown_view(trained: tuple[Path, Path]) -> None:
    ensemble = DiagnosisEnsemble.load(trained[1])
    with pytest.raises(ValueError, match="unknown view"):
        ensemble.diagnose({"XYZ": np.full((50, 50), 100, np.uint8)})


DEMO_MODELS = Path(__file__).resolve().parents[2] / "inference" / "ncls" / "demo_models"


def test_evaluate_from_videos_runs_both_stages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv

    from inference.phantom.cli import main as phantom_main
    from inference.phantom.writer import write_video

    data = tmp_path / "phantom"
    assert (
        phantom_main(
            [
                "generate",
                "--cases",
                "2",
                "--out",
                str(data),
                "--seed",
                "77",
                "--frames-min",
                "40",
                "--frames-max",
                "50",
                "--width",
                "320",
                "--height",
                "240",
                "--dota-every",
                "0",
                "--quiet",
            ]
        )
        == 0
    )
    with (data / "manifest.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    # the second case's sweeps are black: stage 1 finds nothing, the case is reported, not guessed
    for column in ("video_coronal", "video_sagittal"):
        write_video(data / rows[1][column], np.zeros((30, 240, 320), np.uint8), 25)
    out = tmp_path / "report.json"
    assert (
        main(
            [
                "evaluate-diagnosis",
                "--models",
                str(DEMO_MODELS),
                "--data",
                str(data),
                "--from-videos",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    assert list(report["failed"]) == [rows[1]["code"]]
    assert "no standard view" in report["failed"][rows[1]["code"]]
    standard = report["standard"]
    assert standard["n"] == 1
    assert standard["n_severe"] == int(read_manifest(data / "manifest.csv")[0].severe)
    assert 1 <= standard["views_per_case"] <= 6 and standard["seconds_per_case"] > 0
    assert any(v.startswith("detector") or "lite" in v for v in report["models"])
