"""End to end: training command, checkpoint checks, extract on a phantom sweep with the demo detector."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from core.labels import CORONAL_VIEWS, View
from inference.ncls.__main__ import main
from inference.ncls.detection.checkpoint import CheckpointError, load_detector
from inference.ncls.detection.synthetic import write_dota

torch.set_num_threads(1)

DEMO = Path(__file__).resolve().parents[2] / "inference" / "ncls" / "demo_models" / "detector-lite"


def test_train_command_writes_a_checked_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_dota(tmp_path / "dota", 6, seed=5)
    out = tmp_path / "ckpt"
    assert (
        main(
            [
                "train-detector",
                "--data",
                str(data),
                "--out",
                str(out),
                "--profile",
                "lite",
                "--epochs",
                "1",
                "--batch-size",
                "4",
                "--seed",
                "3",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    record = json.loads((out / "detector.json").read_text())
    assert record["profile"] == "lite" and record["seed"] == 3 and len(record["data_hash"]) == 64
    assert record["architecture"]["backbone"] == "resnet10"
    assert "train-detector" in record["command"]
    assert "ap" in record["metrics"]["validation"]
    model, _ = load_detector(out)
    assert not model.training
    assert (
        main(["evaluate-detector", "--data", str(data), "--detector", str(out), "--threads", "1"])
        == 0
    )
    assert '"map"' in capsys.readouterr().out
    # --init starts from the checkpoint's weights: with a zero learning rate its parameters come
    # out unchanged (batch-norm running statistics still move)
    out2 = tmp_path / "ckpt2"
    assert (
        main(
            [
                "train-detector",
                "--data",
                str(data),
                "--out",
                str(out2),
                "--profile",
                "lite",
                "--epochs",
                "1",
                "--batch-size",
                "4",
                "--seed",
                "4",
                "--threads",
                "1",
                "--lr",
                "0",
                "--init",
                str(out),
            ]
        )
        == 0
    )
    record2 = json.loads((out2 / "detector.json").read_text())
    assert record2["init_from"]["weights_sha256"] == record["weights_sha256"]
    assert "--init" in record2["command"]
    model2, _ = load_detector(out2)
    for (name, a), b in zip(model.named_parameters(), model2.parameters(), strict=True):
        assert torch.equal(a, b), name
    with pytest.raises(CheckpointError, match="not the 'full' profile's"):
        main(
            [
                "train-detector",
                "--data",
                str(data),
                "--out",
                str(tmp_path / "x"),
                "--profile",
                "full",
                "--epochs",
                "1",
                "--threads",
                "1",
                "--init",
                str(out),
            ]
        )
    # a changed weights file is refused
    weights = out / "detector.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_detector(out)


def test_extract_phantom_sweep_with_demo_detector(tmp_path: Path) -> None:
    import inference.phantom as phantom
    from inference.phantom.writer import write_video

    case = phantom.render_case(4242, n_frames=70, case_type="normal", orientations=("coronal",))
    sweep = case.sweeps["coronal"]
    video = tmp_path / "coronal.mp4"
    write_video(video, sweep.frames, sweep.fps)
    out = tmp_path / "out"
    assert (
        main(["extract", str(video), "--detector", str(DEMO), "--out", str(out), "--threads", "1"])
        == 0
    )
    result = json.loads((out / "views.json").read_text())
    assert set(result["views"]) == {v.value for v in View}
    (vid,) = result["videos"]
    assert vid["frames"] == 70 and vid["orientation"] == "coronal"
    assert set(vid["timings"]) >= {"decode_s", "detect_s", "views_s"}
    for view in result["views"].values():
        if view["status"] == "found":
            assert (out / view["image"]).is_file() and 0 <= view["frame_index"] < 70
        else:
            assert view["reason"]  # never silently absent
    # no sagittal video: sagittal views are missing, with a reason, never invented
    assert all(
        result["views"][v.value]["status"] == "missing" for v in (View.MSV, View.RPSV, View.LPSV)
    )
    # the demo detector finds every coronal view of a normal sweep, near the ideal frame
    # (measured: 1, 2 and 0 frames off; held-out median over 10 cases: 3)
    for view in CORONAL_VIEWS:
        chosen = result["views"][view.value]
        assert chosen["status"] == "found", (view, chosen)
        assert abs(chosen["frame_index"] - sweep.ideal_frames[view]) <= 4, (
            view,
            chosen["frame_index"],
        )


def test_demo_detector_finds_views_in_a_hydrocephalic_brain(tmp_path: Path) -> None:
    """Severe cases matter most: the demo-3 detector found nothing in a hydrocephalic brain
    but one "AHV" (from the sagittal sweep, called coronal); demo-4 was fine-tuned on data rich
    in dilated ventricles. Its AHV and TVV are still missed there (see the detector README)."""
    import inference.phantom as phantom
    from inference.phantom.writer import write_video

    case = phantom.render_case(13, n_frames=70, case_type="hydrocephalus")
    videos = []
    for orientation, sweep in case.sweeps.items():
        videos.append(tmp_path / f"{orientation}.mp4")
        write_video(videos[-1], sweep.frames, sweep.fps)
    out = tmp_path / "out"
    assert (
        main(
            [
                "extract",
                *map(str, videos),
                "--detector",
                str(DEMO),
                "--out",
                str(out),
                "--threads",
                "1",
            ]
        )
        == 0
    )
    result = json.loads((out / "views.json").read_text())
    assert {Path(v["video"]).stem: v["orientation"] for v in result["videos"]} == {
        "coronal": "coronal",
        "sagittal": "sagittal",
    }
    found = {name for name, view in result["views"].items() if view["status"] == "found"}
    assert found >= {"BV", "MSV", "RPSV", "LPSV"}, result["views"]
    # measured: BV 3 frames off, MSV 0
    for view in (View.BV, View.MSV):
        ideal = case.sweeps["coronal" if view is View.BV else "sagittal"].ideal_frames[view]
        assert abs(result["views"][view.value]["frame_index"] - ideal) <= 4, (view, ideal)
    # a sweep is analysed as the orientation declared for it, never re-labelled: the coronal
    # sweep declared sagittal gives no coronal view
    from inference.ncls.detection.extract import extract
    from inference.ncls.detection.predict import Detector, checkpoint_threshold

    model, record = load_detector(DEMO)
    detector = Detector(model, threshold=checkpoint_threshold(record))
    summary = extract(
        [tmp_path / "coronal.mp4"], detector, tmp_path / "declared", orientations=["sagittal"]
    )
    (vid,) = summary["videos"]
    assert vid["declared_orientation"] == "sagittal" and vid["orientation"] == "sagittal"
    assert all(summary["views"][v.value]["status"] == "missing" for v in CORONAL_VIEWS)
    with pytest.raises(ValueError, match="orientation"):
        extract(videos, detector, tmp_path / "bad", orientations=["coronal"])


def test_dota_labels_parse_and_refuse_bad_lines() -> None:
    from inference.ncls.detection.data import parse_dota_label

    text = "imagesource:phantom\ngsd:0.1\n10 10 50 10 50 30 10 30 cor_thalamus 0\n"
    boxes, labels = parse_dota_label(text)
    assert labels.tolist() == [4] and boxes.shape == (1, 5)
    np.testing.assert_allclose(sorted(boxes[0, 2:4]), [20.0, 40.0])
    with pytest.raises(ValueError, match="line 1: corner coordinates"):
        parse_dota_label("10 10 x 10 50 30 10 30 cor_thalamus 0\n")
    with pytest.raises(ValueError, match="line 1: unknown class"):
        parse_dota_label("10 10 50 10 50 30 10 30 brainstem 0\n")


def test_plane_quality_header_scales_every_box_of_the_frame(tmp_path: Path) -> None:
    import cv2

    from inference.ncls.detection.data import (
        TrainSet,
        list_pairs,
        load_samples,
        parse_dota_label,
        parse_plane_quality,
    )

    line = "10 10 50 10 50 30 10 30 cor_thalamus 0\n"
    assert parse_plane_quality("plane-quality:0.25\n" + line) == 0.25
    assert parse_plane_quality(line) == 1.0  # plain DOTA: full targets
    # the box parser still reads a file that carries the header
    assert parse_dota_label("plane-quality:0.25\n" + line)[1].tolist() == [4]
    with pytest.raises(ValueError, match="line 2: plane quality must be in"):
        parse_plane_quality(line + "plane-quality:1.5\n")
    with pytest.raises(ValueError, match="line 1: plane quality is not a number"):
        parse_plane_quality("plane-quality:high\n")
    (tmp_path / "images").mkdir()
    (tmp_path / "labelTxt").mkdir()
    for name, head, other in (
        ("a", "plane-quality:0.4\n", "corpus_callosum"),
        ("b", "", "lateral_ventricle"),
    ):
        cv2.imwrite(str(tmp_path / "images" / f"{name}.png"), np.full((60, 80), 90, np.uint8))
        text = head + line.replace("thalamus", other) + line.replace("thalamus", "third_ventricle")
        (tmp_path / "labelTxt" / f"{name}.txt").write_text(text)
    samples = load_samples(list_pairs(tmp_path), 64)
    assert [s.box_quality().tolist() for s in samples] == [[0.4, 0.4], [1.0, 1.0]]
    # Mosaic and Mixup keep each box's quality with its box
    data = TrainSet(samples, mosaic=1.0, mixup=1.0, seed=3, quality_floor=0.0)
    for i in range(6):
        _image, target = data[i % 2]
        q, lab = target["quality"].numpy().astype(float), target["labels"].numpy()
        assert len(q) == len(lab) >= 4
        # a's callosum boxes carry 0.4, b's lateral ventricles 1.0 (both have a third ventricle)
        np.testing.assert_allclose(q[lab == samples[0].labels[0]], 0.4, rtol=1e-6)
        np.testing.assert_allclose(q[lab == samples[1].labels[0]], 1.0)
    # training's floor: target scale = floor + (1 − floor) × quality; 1 (default) ignores quality
    assert TrainSet(samples, mosaic=0.0, mixup=0.0)[0][1]["quality"].tolist() == [1.0, 1.0]
    floored = TrainSet(samples, mosaic=0.0, mixup=0.0, seed=3, quality_floor=0.5)
    assert floored[0][1]["quality"].tolist() == pytest.approx([0.7, 0.7])
    assert floored[1][1]["quality"].tolist() == pytest.approx([1.0, 1.0])
    # per-class floors: a's callosum (0.4) with floor 0 keeps 0.4, its third ventricle with floor 1 gets 1
    from core.labels import ANATOMY_CLASSES
    from inference.ncls.detection.train import TrainOptions, quality_floors

    floors = quality_floors(
        TrainOptions(data="", out="", class_quality_floors=(("cor_corpus_callosum", 0.0),))
    )
    assert (
        floors[ANATOMY_CLASSES.index("cor_corpus_callosum")] == 0.0
        and floors.sum() == len(ANATOMY_CLASSES) - 1
    )
    per_class = TrainSet(samples, mosaic=0.0, mixup=0.0, quality_floor=floors)[0][1]
    assert dict(
        zip(per_class["labels"].tolist(), per_class["quality"].tolist(), strict=True)
    ) == pytest.approx(
        {
            ANATOMY_CLASSES.index("cor_corpus_callosum"): 0.4,
            ANATOMY_CLASSES.index("cor_third_ventricle"): 1.0,
        }
    )
    with pytest.raises(ValueError, match="unknown class 'brainstem'"):
        quality_floors(TrainOptions(data="", out="", class_quality_floors=(("brainstem", 0.0),)))
    with pytest.raises(ValueError, match="quality floor must be in"):
        quality_floors(TrainOptions(data="", out="", quality_floor=1.5))
