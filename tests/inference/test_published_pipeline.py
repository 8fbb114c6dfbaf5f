"""A published model directory through the platform's pipeline (stage 1 and stage 2).

The weights come from the README's golden rule, so no view is ever found by the real
detector: what is tested is the plumbing — class map, threshold, boxes in original pixels on
non-square frames, seeded test-time augmentation, fold averaging before the softmax, the
0.2 rule, the detections file, and that a three-sweep case ends with a clear outcome.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch

from core.labels import ANATOMY_CLASSES, IMAGE_LABELS, Condition, View
from inference.ncls.__main__ import main
from inference.ncls.backends import Options, load_detector, load_diagnoser
from inference.ncls.detection.extract import extract
from inference.ncls.detection.predict import FrameDetections
from inference.ncls.detection.views import analyse_sweep
from inference.ncls.diagnosis.rules import DecidingRule
from inference.ncls.pipeline import NclsPipeline
from inference.ncls.published.detector import build_detector, detector_input, postprocess
from inference.ncls.published.diagnosis import build_diagnosis, diagnosis_input, diagnosis_pixels
from inference.ncls.published.ensemble import IMAGE_HEAD_ORDER, PublishedEnsemble, rgb_to_bgr
from inference.ncls.published.frames import PublishedFrameDetector, published_boxes
from inference.ncls.published.model_dir import PublishedModels, import_published
from inference.ncls.published.tta import tta_inputs
from inference.ncls.published.weight_rule import golden_weights
from inference.ncls.sweep_args import split_spec

torch.set_num_threads(2)

# One xdist worker runs the whole module: ``published_dir`` and ``two_folds`` are made once.
pytestmark = pytest.mark.xdist_group("published-pipeline")


def rule_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    entries = [
        [k, list(v.shape), str(v.dtype).removeprefix("torch.")]
        for k, v in module.state_dict().items()
    ]
    return golden_weights(entries)


@pytest.fixture(scope="module")
def published_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory made by ``import_published`` from golden-rule weights (all folds equal)."""
    root = tmp_path_factory.mktemp("published")
    detection = root / "detection_weight.pth"
    torch.save({"ema": {"module": rule_state(build_detector())}}, detection)
    folds = root / "diagnostic_weight"
    folds.mkdir()
    torch.save({"model": rule_state(build_diagnosis())}, folds / "fold_1.pth")
    for k in (2, 3, 4, 5):
        os.link(folds / "fold_1.pth", folds / f"fold_{k}.pth")
    out = root / "models"
    import_published(detection, folds, out)
    return out


def sector_frame(height: int, width: int, seed: int) -> np.ndarray:
    """An RGB frame with a bright speckled fan on black and a text-like bar at the top."""
    rng = np.random.default_rng(seed)
    frame = np.zeros((height, width, 3), np.uint8)
    mask = np.zeros((height, width), np.uint8)
    centre = (width // 2, height // 10)
    cv2.ellipse(mask, centre, (int(height * 0.8), int(height * 0.8)), 90, -35, 35, 1, thickness=-1)
    grey = rng.integers(40, 200, size=(height, width), dtype=np.uint8)
    frame[mask.astype(bool)] = grey[mask.astype(bool), None]
    frame[5:15, 10:120] = 200
    return frame


def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


# ---- stage 1: the published detector's plumbing ----


class ScriptedDetector(torch.nn.Module):
    """Raw outputs chosen by the test; remembers its input."""

    def __init__(self, logits: torch.Tensor, boxes: torch.Tensor) -> None:
        super().__init__()
        self.logits, self.boxes = logits, boxes
        self.seen: torch.Tensor | None = None

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        self.seen = images
        n = images.shape[0]
        return {
            "pred_logits": self.logits.expand(n, -1, -1),
            "pred_boxes": self.boxes.expand(n, -1, -1),
        }


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_class_map_threshold_and_boxes_in_original_pixels() -> None:
    logits = torch.full((1, 300, 15), -10.0)
    boxes = torch.full((1, 300, 5), 0.5)
    logits[0, 0, 2] = logit(0.7)  # third ventricle: kept
    boxes[0, 0] = torch.tensor([0.5, 0.25, 0.2, 0.1, 0.5])
    logits[0, 1, 12] = logit(0.95)  # an unused head class: dropped however sure
    logits[0, 2, 4] = logit(0.59)  # below the threshold: dropped
    logits[0, 3, 9] = logit(0.61)  # sagittal thalamus: kept
    boxes[0, 3] = torch.tensor([0.25, 0.5, 0.1, 0.4, 0.5 + 30 / 360])
    net = ScriptedDetector(logits, boxes)
    frame = sector_frame(648, 850, seed=1)  # H×W: non-square, as the authors' 850×648 machine
    (found,) = PublishedFrameDetector(net).detect([frame], 7, None)
    assert found.frame_index == 7
    assert [ANATOMY_CLASSES[c] for c in found.classes] == ["cor_third_ventricle", "sag_thalamus"]
    np.testing.assert_allclose(found.scores, [0.7, 0.61], atol=1e-6)
    # (cx, cy, w, h) scale with the frame's own width and height; long edge first, clockwise degrees
    np.testing.assert_allclose(found.boxes[0], [425.0, 162.0, 170.0, 64.8, 0.0], atol=1e-3)
    np.testing.assert_allclose(found.boxes[1], [212.5, 324.0, 259.2, 85.0, -30.0 + 90.0], atol=1e-3)
    # the network saw the authors' input: the whole frame as BGR through detector_input
    assert net.seen is not None
    assert torch.equal(net.seen[0], detector_input(np.ascontiguousarray(frame[..., ::-1])))


class Recorder(torch.nn.Module):
    """Passes through to the real network and keeps its raw outputs."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net
        self.outputs: dict[str, torch.Tensor] = {}

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        self.outputs = self.net(images)
        return self.outputs


def test_golden_detector_on_non_square_frames_matches_the_authors_postprocessing(
    published_dir: Path,
) -> None:
    detector, record = load_detector(published_dir)
    assert isinstance(detector, PublishedFrameDetector) and detector.threshold == 0.6
    assert record["profile"] == "published" and not detector.crop_views_to_sector
    recorder = Recorder(detector.model)
    detector.model = recorder
    frames = [sector_frame(648, 850, seed=2), sector_frame(898, 1442, seed=3)]
    found = detector.detect(frames, 0, None)  # one batch of two frame sizes
    posts = postprocess(recorder.outputs, [(850, 648), (1442, 898)])
    for got, post in zip(found, posts, strict=True):
        keep = (post["labels"] < 10) & (post["scores"] > 0.6)
        assert got.classes.tolist() == post["labels"][keep].tolist()
        np.testing.assert_allclose(
            got.boxes, published_boxes(post["boxes"][keep].numpy()), atol=1e-4
        )


# ---- stage 2: test-time augmentation, fold averaging, the rule ----


def test_tta_is_seeded_and_one_pass_means_no_augmentation() -> None:
    views = [sector_frame(648, 850, seed=4), sector_frame(898, 1442, seed=5)]
    pixels = torch.stack([diagnosis_pixels(rgb_to_bgr(v)) for v in views])
    first, again = tta_inputs(pixels, 10, seed=11), tta_inputs(pixels, 10, seed=11)
    assert first.shape == (10, 2, 3, 256, 256) and torch.equal(first, again)
    assert not torch.equal(first, tta_inputs(pixels, 10, seed=12))
    assert not torch.equal(first[0], first[1])  # every pass draws its own augmentation
    plain = tta_inputs(pixels, 1)
    assert plain.shape == (1, 2, 3, 256, 256)
    for k, view in enumerate(views):
        assert torch.allclose(plain[0, k], diagnosis_input(rgb_to_bgr(view)), atol=1e-6)
    with pytest.raises(ValueError, match="at least 1"):
        tta_inputs(pixels, 0)


@pytest.fixture(scope="module")
def two_folds(published_dir: Path) -> PublishedEnsemble:
    """Two different folds (the second's case head scaled), two seeded passes."""
    ensemble = load_diagnoser(published_dir, Options(tta=2))
    assert isinstance(ensemble, PublishedEnsemble)
    first = ensemble.models.folds[0]
    second = build_diagnosis()
    second.load_state_dict(first.state_dict())
    with torch.no_grad():
        second.disease_classifier[1].weight.mul_(-3.0)
        second.instance_classifier[1].bias.add_(0.5)
    models = PublishedModels(
        ensemble.models.directory, ensemble.models.record, (first, second.eval()), None
    )
    return PublishedEnsemble(models, tta=2, seed=5)


def test_fold_logits_are_averaged_before_the_softmax(two_folds: PublishedEnsemble) -> None:
    views = {"TVV": sector_frame(648, 850, seed=6), "AHV": sector_frame(648, 850, seed=7)}
    diagnosis = two_folds.diagnose(views)
    # slow manual computation: views in slot order (AHV, TVV), each pass one bag, each fold
    pixels = torch.stack([diagnosis_pixels(rgb_to_bgr(views[v])) for v in ("AHV", "TVV")])
    inputs = tta_inputs(pixels, 2, seed=5)
    case_logits, image_logits, probabilities = [], [], []
    with torch.no_grad():
        for net in two_folds.folds:
            for p in range(2):
                case, image, _ = net(inputs[p], torch.tensor([2]))
                case_logits.append(case[0].double())
                image_logits.append(image.double())
                probabilities.append(torch.softmax(case[0].double(), 0)[1])
    expected = float(torch.softmax(torch.stack(case_logits).mean(0), 0)[1])
    assert diagnosis.severe_probability == pytest.approx(expected, abs=1e-6)
    assert abs(float(torch.stack(probabilities).mean()) - expected) > 1e-4  # the order matters here
    sigmoid = torch.sigmoid(torch.stack(image_logits).mean(0))
    for k, view in enumerate(("AHV", "TVV")):
        got = [diagnosis.image_labels[view].probabilities[str(c)] for c in IMAGE_HEAD_ORDER]
        np.testing.assert_allclose(got, sigmoid[k].numpy(), atol=1e-6)
    assert diagnosis.severe == (expected >= 0.2)


def scripted(
    ensemble: PublishedEnsemble,
    severe: float,
    labels: list[set[Condition]],
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """Make the ensemble's averaged logits give ``severe`` and the image labels given per view."""
    case = torch.tensor([0.0, math.log(severe / (1 - severe))], dtype=torch.float64)
    image = torch.tensor(
        [[4.0 if c in found else -4.0 for c in IMAGE_HEAD_ORDER] for found in labels],
        dtype=torch.float64,
    )
    monkeypatch.setattr(ensemble, "logits", lambda views: (case, image))
    views = dict(
        zip(("AHV", "TVV", "BV"), (np.zeros((300, 300, 3), np.uint8),) * len(labels), strict=False)
    )
    return ensemble.diagnose(views)


def test_severe_at_probability_02_and_the_image_head_rule(
    two_folds: PublishedEnsemble, monkeypatch: pytest.MonkeyPatch
) -> None:
    normal = [{Condition.NORMAL}, {Condition.NORMAL}]
    above = scripted(two_folds, 0.2001, normal, monkeypatch)
    assert above.severe and above.rule == DecidingRule.CASE_HEAD_SEVERE
    assert above.severe_probability == pytest.approx(0.2001)
    below = scripted(two_folds, 0.1999, normal, monkeypatch)
    assert not below.severe and below.rule == DecidingRule.CASE_HEAD_NON_SEVERE
    override = scripted(two_folds, 0.1, [{Condition.PVL}, {Condition.IVH}], monkeypatch)
    assert override.severe and override.rule == DecidingRule.IMAGE_HEAD_OVERRIDE
    alone = scripted(two_folds, 0.1, [{Condition.HYDROCEPHALUS}, {Condition.NORMAL}], monkeypatch)
    assert not alone.severe and alone.rule == DecidingRule.IMAGE_FLAG_TOO_FEW_ABNORMAL


# ---- stage 1 outputs: detections file, one-sided sagittal sweeps ----


class CoronalStub:
    """A frame detector that sees a third ventricle (and callosum) on frames 2–7."""

    threshold = 0.6
    crop_views_to_sector = False

    def detect(self, frames: list[np.ndarray], start_index: int, roi: Any) -> list[FrameDetections]:
        out = []
        for k, frame in enumerate(frames):
            i = start_index + k
            h, w = frame.shape[:2]
            if 2 <= i <= 7:
                boxes = np.array(
                    [[w / 2, h / 3, 80.0, 40.0, 10.0], [w / 2, h / 4, 200.0, 30.0, 0.0]]
                )
                out.append(
                    FrameDetections(
                        i, boxes, np.array([2, 0]), np.array([0.9, 0.8 - 0.01 * abs(i - 5)])
                    )
                )
            else:
                out.append(FrameDetections(i, np.zeros((0, 5)), np.zeros(0, np.int64), np.zeros(0)))
        return out


def test_detections_out_has_every_frame(tmp_path: Path) -> None:
    video = write_video(tmp_path / "cor.mp4", [sector_frame(648, 850, seed=s) for s in range(10)])
    lines_path = tmp_path / "det.jsonl"
    summary = extract([video], CoronalStub(), tmp_path / "out", detections_out=lines_path)
    lines = [json.loads(line) for line in lines_path.read_text().splitlines()]
    assert [r["frame_index"] for r in lines] == list(range(10))
    assert all(r["video"] == str(video) for r in lines)
    assert lines[0]["detections"] == [] and len(lines[4]["detections"]) == 2
    det = lines[4]["detections"][0]
    assert det["class_name"] == "cor_third_ventricle" and det["score"] == 0.9
    assert (det["cx"], det["cy"], det["w"], det["h"], det["angle_deg"]) == (
        425.0,
        216.0,
        80.0,
        40.0,
        10.0,
    )
    assert summary["views"]["TVV"]["status"] == "found"
    # a whole-frame detector's view images are whole frames
    view_image = cv2.imread(str(tmp_path / "out" / "TVV.png"))
    assert view_image is not None and view_image.shape == (648, 850, 3)


def test_extract_cli_writes_detections_with_the_published_detector(
    published_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = write_video(tmp_path / "sag.mp4", [sector_frame(898, 1442, seed=s) for s in range(2)])
    out, lines_path = tmp_path / "out", tmp_path / "det.jsonl"
    assert (
        main(
            [
                "extract",
                f"sagittal_left={video}",
                "--detector",
                str(published_dir),
                "--out",
                str(out),
                "--detections-out",
                str(lines_path),
            ]
        )
        == 0
    )
    lines = [json.loads(line) for line in lines_path.read_text().splitlines()]
    assert [r["frame_index"] for r in lines] == [0, 1]
    for record in lines:
        for det in record["detections"]:
            assert det["class_name"] in ANATOMY_CLASSES and det["score"] > 0.6
            assert 0 <= det["cx"] <= 1442 and 0 <= det["cy"] <= 898
    summary = json.loads((out / "views.json").read_text())
    assert summary["videos"][0]["declared_orientation"] == "sagittal_left"
    assert summary["detector"]["profile"] == "published" and summary["score_threshold"] == 0.6


def frames_with(groups: dict[range, list[int]], n: int) -> list[FrameDetections]:
    out = []
    for i in range(n):
        classes = next((c for r, c in groups.items() if i in r), [])
        out.append(
            FrameDetections(
                i,
                np.zeros((len(classes), 5)),
                np.array(classes, dtype=np.int64),
                np.full(len(classes), 0.9),
            )
        )
    return out


def test_one_sided_sagittal_sweeps_give_their_side() -> None:
    # midline (callosum + cerebellum) at frames 2-8, then parasagittal (lateral ventricle) 20-28
    dets = frames_with({range(2, 9): [5, 8], range(20, 29): [7, 9]}, 40)
    left = analyse_sweep(dets, orientation="sagittal_left")
    assert left.orientation == "sagittal"
    assert left.views[View.MSV].found and left.views[View.LPSV].found
    assert not left.views[View.RPSV].found and "one-sided" in str(
        left.views[View.RPSV].missing_reason
    )
    right = analyse_sweep(dets, orientation="sagittal_right")
    assert right.views[View.RPSV].found and not right.views[View.LPSV].found
    both = analyse_sweep(dets, orientation="sagittal")  # a two-sided sweep: the first side is right
    assert both.views[View.RPSV].found is False and both.views[View.LPSV].found is True
    with pytest.raises(ValueError, match="orientation"):
        analyse_sweep(dets, orientation="axial")


def test_video_specs() -> None:
    assert split_spec("sagittal_right=a=b.mp4") == (Path("a=b.mp4"), "sagittal_right")
    assert split_spec("x=y.mp4") == (Path("x=y.mp4"), None)
    assert split_spec("cor.mp4") == (Path("cor.mp4"), None)


# ---- the whole case ----


def test_published_pipeline_end_to_end_on_a_1442x898_video(
    two_folds: PublishedEnsemble, tmp_path: Path
) -> None:
    """Decoding, view selection, whole-frame views, the published diagnosis with seeded TTA
    (the stub stands in for a detector that finds a third-ventricle view)."""
    video = write_video(tmp_path / "cor.mp4", [sector_frame(898, 1442, seed=s) for s in range(10)])
    pipeline = NclsPipeline(
        two_folds, CoronalStub(), {"profile": "published", "weights_sha256": "ab" * 32}
    )
    result = pipeline.run_videos([video], out_dir=tmp_path / "out", orientations=["coronal"])
    assert set(result.view_frames) == {"TVV"} and result.view_frames["TVV"].shape == (898, 1442, 3)
    assert 0.0 <= result.diagnosis.severe_probability <= 1.0 and not result.demo
    assert result.model_versions["detection"] == ["ncls-detection-published-" + "ab" * 6]
    assert len(result.model_versions["diagnosis"]) == 2 and result.heatmaps == {}
    saved = json.loads((tmp_path / "out" / "result.json").read_text())
    assert saved["diagnosis"]["severe"] == result.diagnosis.severe
    again = pipeline.run_videos([video], orientations=["coronal"], heatmaps=False)
    assert again.diagnosis.severe_probability == result.diagnosis.severe_probability


@pytest.mark.slow
def test_three_sweep_cli_run_ends_with_no_standard_view(
    published_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cor = write_video(tmp_path / "cor.mp4", [sector_frame(648, 850, seed=s) for s in range(2)])
    left = write_video(tmp_path / "left.mp4", [sector_frame(898, 1442, seed=s) for s in range(2)])
    right = write_video(
        tmp_path / "right.mp4", [sector_frame(648, 850, seed=9 + s) for s in range(2)]
    )
    out = tmp_path / "out"
    code = main(
        [
            "run",
            str(cor),
            str(left),
            str(right),
            "--orientation",
            "coronal",
            "--orientation",
            "sagittal_left",
            "--orientation",
            "sagittal_right",
            "--models",
            str(published_dir),
            "--out",
            str(out),
            "--tta",
            "1",
            "--detections-out",
            str(tmp_path / "d.jsonl"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 3 and "no standard view" in err and "Traceback" not in err
    outcome = json.loads((out / "result.json").read_text())
    assert outcome["outcome"] == "no standard view" and set(outcome["reasons"]) == {
        v.value for v in View
    }
    assert [v["declared_orientation"] for v in outcome["videos"]] == [
        "coronal",
        "sagittal_left",
        "sagittal_right",
    ]
    assert len((tmp_path / "d.jsonl").read_text().splitlines()) == 6


def test_image_head_order_reproduces_the_authors_per_image_severe_flag() -> None:
    """Every 0/1 output vector: the platform's flag on the mapped labels equals the authors'.

    Their decision code flags an image when output 1 or 2 fires, or 3 together with 5.
    """
    from inference.ncls.diagnosis.rules import flags_severe

    assert sorted(IMAGE_HEAD_ORDER) == sorted(IMAGE_LABELS)
    for bits in itertools.product((0, 1), repeat=6):
        labels = frozenset(c for c, bit in zip(IMAGE_HEAD_ORDER, bits, strict=True) if bit)
        authors = bool(bits[1] or bits[2] or (bits[3] and bits[5]))
        assert flags_severe(labels) == authors, bits
