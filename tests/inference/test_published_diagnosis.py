"""The authors' published diagnosis network: keys, golden parity, input, checkpoint safety, import.

The reference data (``tests/inference/data/published_ncls``) are the authors' key list and the
outputs of their own code with every weight filled by the README's deterministic rule, so
parity is proven without their weights.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from core.files import file_sha256
from inference.ncls.__main__ import main
from inference.ncls.published.checkpoints import (
    CheckpointError,
    detector_state,
    load_detector,
    load_diagnosis,
)
from inference.ncls.published.diagnosis import (
    PublishedDiagnosisNet,
    build_diagnosis,
    crop_sector,
    diagnosis_input,
)
from inference.ncls.published.model_dir import ModelDirError, load_published_model_dir
from inference.ncls.published.weight_rule import golden_weights

torch.set_num_threads(2)

DATA = Path(__file__).parent / "data" / "published_ncls"
KEYS: list[list[Any]] = json.loads((DATA / "diagnosis_keys.json").read_text())
GOLDEN: dict[str, Any] = json.loads((DATA / "diagnosis_golden.json").read_text())
TOLERANCE = 1e-4
MEAN = np.array([0.1798, 0.1799, 0.1799], dtype=np.float32)
STD = np.array([0.2080, 0.2080, 0.2081], dtype=np.float32)


def golden_images() -> torch.Tensor:
    return torch.randn(5, 3, 256, 256, generator=torch.Generator().manual_seed(2))


def max_errors(outputs: tuple[torch.Tensor, ...]) -> dict[str, float]:
    names = ("disease_logits", "image_logits", "plane_logits")
    return {
        n: (o - torch.tensor(GOLDEN[n])).abs().max().item()
        for n, o in zip(names, outputs, strict=True)
    }


@pytest.fixture(scope="module")
def golden_state() -> dict[str, torch.Tensor]:
    return golden_weights(KEYS)


@pytest.fixture(scope="module")
def golden_net(golden_state: dict[str, torch.Tensor]) -> PublishedDiagnosisNet:
    net = build_diagnosis()
    net.load_state_dict(golden_state)
    return net.eval()


@pytest.fixture(scope="module")
def golden_outputs(golden_net: PublishedDiagnosisNet) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        return tuple(golden_net(golden_images(), torch.tensor([2, 3])))


# ---- the network ----


def test_state_dict_is_exactly_the_authors_key_list() -> None:
    state = build_diagnosis().state_dict()
    ours = [[name, list(t.shape), str(t.dtype).removeprefix("torch.")] for name, t in state.items()]
    assert ours == KEYS


def test_golden_outputs(golden_outputs: tuple[torch.Tensor, ...]) -> None:
    case, image, plane = golden_outputs
    assert case.shape == (2, 2) and image.shape == (5, 6) and plane.shape == (5, 5)
    errors = max_errors(golden_outputs)
    assert max(errors.values()) < TOLERANCE, errors


def test_a_case_alone_gives_its_golden_case_logits(golden_net: PublishedDiagnosisNet) -> None:
    """Padding to six views is masked: the first case alone equals its row in the batch."""
    with torch.no_grad():
        case, _, _ = golden_net(golden_images()[:2], torch.tensor([2]))
    assert (case[0] - torch.tensor(GOLDEN["disease_logits"][0])).abs().max().item() < TOLERANCE


@pytest.mark.parametrize(("images", "lengths"), [(5, [2, 2]), (7, [7]), (5, [0, 5])])
def test_bag_lengths_are_checked(
    golden_net: PublishedDiagnosisNet, images: int, lengths: list[int]
) -> None:
    with pytest.raises(ValueError, match=r"bag lengths sum|1 to 6 views"):
        golden_net(torch.zeros(images, 3, 256, 256), torch.tensor(lengths))


# ---- the per-view input ----


def frame_with_sector() -> tuple[np.ndarray, tuple[int, int, int, int], np.ndarray]:
    """A 600×900 BGR frame: a textured triangle (the sector), a big blob inside its bounding
    box (plausible, so painted black), a small blob (implausible, kept) and a wide banner.

    Returns the frame, the sector's bounding box (x, y, w, h) from its own mask, and the
    mask of the pixels the authors paint black.
    """
    rng = np.random.default_rng(0)
    frame = np.zeros((600, 900, 3), np.uint8)
    texture = rng.integers(20, 256, size=frame.shape, dtype=np.uint8)
    sector = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(sector, [np.array([[400, 40], [100, 560], [700, 560]], np.int32)], 255)
    frame[sector > 0] = texture[sector > 0]
    ys, xs = np.nonzero(sector)
    box = (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
    painted = np.zeros(frame.shape[:2], bool)
    painted[60:230, 110:280] = True  # 170×170 = 28,900 px, in the triangle's empty corner
    frame[painted] = 90
    frame[480:500, 640:660] = 200  # 400 px: too small to be plausible, inside the box
    frame[5:25, 10:890] = 255  # banner: aspect ratio 44, never the sector
    return frame, box, painted


def reference_input(image: np.ndarray) -> np.ndarray:
    """torchvision's Resize(300) + CenterCrop(256) + ToTensor + Normalize, by hand with PIL."""
    h, w = image.shape[:2]
    short, long = min(h, w), max(h, w)
    size = (300, int(300 * long / short))  # torchvision truncates the long side
    new_w, new_h = (size[0], size[1]) if w <= h else (size[1], size[0])
    resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.Resampling.BILINEAR))
    top, left = round((new_h - 256) / 2), round((new_w - 256) / 2)
    crop = resized[top : top + 256, left : left + 256].astype(np.float32) / 255.0
    return ((crop - MEAN) / STD).transpose(2, 0, 1)


def test_input_crops_the_sector_and_blacks_out_other_plausible_regions() -> None:
    frame, (x, y, w, h), painted = frame_with_sector()
    expected_crop = frame.copy()
    expected_crop[painted] = 0
    expected_crop = expected_crop[y : y + h, x : x + w]
    assert np.array_equal(crop_sector(frame), expected_crop)
    tensor = diagnosis_input(frame)
    assert tensor.shape == (3, 256, 256) and tensor.dtype == torch.float32
    np.testing.assert_allclose(tensor.numpy(), reference_input(expected_crop), atol=1e-6)


def test_input_keeps_the_channels_in_bgr_order() -> None:
    frame = np.zeros((400, 400, 3), np.uint8)
    frame[50:350, 50:350, 0] = 250  # blue only, in OpenCV's order
    tensor = diagnosis_input(frame)
    assert tensor[0].mean() > 3.0 and tensor[2].max() < 0.0


def test_input_without_a_plausible_region_uses_the_whole_frame() -> None:
    frame = np.zeros((300, 500, 3), np.uint8)
    frame[100:150, 100:150] = 120  # 2,500 px: not plausible
    assert crop_sector(frame) is frame
    np.testing.assert_allclose(diagnosis_input(frame).numpy(), reference_input(frame), atol=1e-6)


def test_input_threshold_uses_the_authors_grey_weights() -> None:
    """Their grey image weights red by 0.114 (BGR2GRAY applied to an RGB array)."""
    frame = np.zeros((400, 400, 3), np.uint8)
    frame[20:380, 20:380, 2] = 10  # dim red: grey 1.14 → 1, not above the threshold
    assert crop_sector(frame) is frame
    frame[:, :, :] = 0
    frame[20:380, 20:380, 0] = 10  # dim blue: grey 2.99 → 3, the sector
    assert crop_sector(frame).shape == (360, 360, 3)


def test_grey_and_bgr_frames_give_the_same_input() -> None:
    frame, _, _ = frame_with_sector()
    grey = frame[:, :, 1].copy()
    assert torch.equal(
        diagnosis_input(grey), diagnosis_input(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    )


# ---- reading the authors' checkpoint files ----


class RunsCode:
    """Unpickling this calls ``open(path, "w")``: a harmless stand-in for arbitrary code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def test_random_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "fold_1.pth"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises(CheckpointError, match=r"fold_1\.pth: not a PyTorch checkpoint"):
        load_diagnosis(path)


def test_a_truncated_file_is_refused(tmp_path: Path, golden_state: dict[str, torch.Tensor]) -> None:
    path = tmp_path / "fold_1.pth"
    torch.save({"model": {k: golden_state[k] for k in list(golden_state)[:20]}}, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"fold_1\.pth: damaged or truncated"):
        load_diagnosis(path)
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty or truncated"):
        load_diagnosis(path)


def test_a_pickle_that_would_run_code_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "created-by-the-pickle"
    path = tmp_path / "fold_1.pth"
    torch.save({"model": {"cls_token": torch.zeros(1, 768)}, "hook": RunsCode(marker)}, path)
    with pytest.raises(CheckpointError, match=r"refused by the safe loader") as raised:
        load_diagnosis(path)
    assert "open" in str(raised.value)
    assert not marker.exists()
    # The file is not inert: an unrestricted unpickler would have run the call.
    proof = tmp_path / "proof"
    torch.save(RunsCode(proof), tmp_path / "proof.pth")
    torch.load(tmp_path / "proof.pth", weights_only=False)  # deliberately unsafe, on our own file
    assert proof.exists()


def save_fold(path: Path, state: dict[str, torch.Tensor], prefix: str = "") -> Path:
    torch.save({"model": {prefix + k: v for k, v in state.items()}, "epoch": 44}, path)
    return path


def refusal(tmp_path: Path, state: dict[str, torch.Tensor]) -> str:
    path = save_fold(tmp_path / "fold_3.pth", state)
    with pytest.raises(CheckpointError) as raised:
        load_diagnosis(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: not the weights of the published diagnosis network")
    return message


def test_a_missing_key_is_named(tmp_path: Path, golden_state: dict[str, torch.Tensor]) -> None:
    state = {k: v for k, v in golden_state.items() if k != "norm.bias"}
    assert "1 missing key: norm.bias" in refusal(tmp_path, state)


def test_many_missing_keys_are_counted(
    tmp_path: Path, golden_state: dict[str, torch.Tensor]
) -> None:
    state = {k: v for k, v in golden_state.items() if not k.startswith("stages.3.")}
    message = refusal(tmp_path, state)
    assert "27 missing keys: stages.3.0.gamma, stages.3.0.dwconv.weight" in message
    assert "… and 22 more" in message


def test_an_extra_key_is_named(tmp_path: Path, golden_state: dict[str, torch.Tensor]) -> None:
    state = {**golden_state, "avgpool_proj.weight": torch.zeros(3)}
    assert "1 unexpected key: avgpool_proj.weight" in refusal(tmp_path, state)


def test_a_wrong_shape_is_named(tmp_path: Path, golden_state: dict[str, torch.Tensor]) -> None:
    state = {**golden_state, "instance_classifier.1.weight": torch.zeros(2, 768)}
    message = refusal(tmp_path, state)
    assert (
        "1 key with the wrong shape: instance_classifier.1.weight [2, 768] (expected [6, 768])"
        in message
    )


def test_a_file_without_model_weights_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fold_1.pth"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(
        CheckpointError, match=r"no 'model' entry at the top level \(it has 'state_dict'\)"
    ):
        load_diagnosis(path)


def test_data_parallel_prefix_is_stripped(
    tmp_path: Path, golden_state: dict[str, torch.Tensor]
) -> None:
    net = load_diagnosis(save_fold(tmp_path / "fold_1.pth", golden_state, prefix="module."))
    assert not net.training
    assert all(torch.equal(v, golden_state[k]) for k, v in net.state_dict().items())


def test_detector_weights_come_from_ema_when_present(tmp_path: Path) -> None:
    path = tmp_path / "detector.pth"
    torch.save(
        {"ema": {"module": {"a": torch.ones(1)}, "updates": 3}, "model": {"b": torch.ones(1)}}, path
    )
    assert list(detector_state(path)) == ["a"]
    torch.save({"model": {"b": torch.ones(1)}, "optimizer": {}}, path)
    assert list(detector_state(path)) == ["b"]
    torch.save({"ema": {"updates": 3}}, path)
    with pytest.raises(CheckpointError, match=r"no 'module' entry at \['ema'\]"):
        detector_state(path)


# ---- import-published and the model directory ----


def rule_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    entries = [
        [k, list(v.shape), str(v.dtype).removeprefix("torch.")]
        for k, v in module.state_dict().items()
    ]
    return golden_weights(entries)


@pytest.mark.slow
def test_import_published_round_trip(
    tmp_path: Path, golden_state: dict[str, torch.Tensor], capsys: pytest.CaptureFixture[str]
) -> None:
    from inference.ncls.published.detector import build_detector

    detector = rule_state(build_detector())
    detection = tmp_path / "src" / "detection_weight.pth"
    detection.parent.mkdir()
    torch.save({"ema": {"module": detector, "updates": 1}, "model": {}}, detection)
    folds = tmp_path / "src" / "diagnostic_weight"
    folds.mkdir()
    save_fold(folds / "fold_1.pth", golden_state, prefix="module.")
    save_fold(folds / "fold_2.pth", golden_state)
    for k in (3, 4, 5):
        os.link(folds / "fold_2.pth", folds / f"fold_{k}.pth")
    out = tmp_path / "models" / "published"

    args = [
        "import-published",
        "--detection",
        str(detection),
        "--diagnosis",
        str(folds),
        "--out",
        str(out),
    ]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["model_dir"] == str(out)
    record = json.loads((out / "published.json").read_text())
    assert record["profile"] == "published" and record["provenance"] == "published import"
    assert record["detector"]["source"]["sha256"] == file_sha256(detection)
    assert [f["source"]["sha256"] for f in record["diagnosis"]["folds"]] == [
        file_sha256(folds / f"fold_{k}.pth") for k in range(1, 6)
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["published.json", "detector.safetensors"] + [f"fold_{k}.safetensors" for k in range(1, 6)]
    )

    direct = load_detector(detection)
    assert not direct.training
    assert all(torch.equal(v, detector[k]) for k, v in direct.state_dict().items())
    del direct

    models = load_published_model_dir(out)
    assert len(models.folds) == 5 and models.detector is not None
    assert all(torch.equal(v, detector[k]) for k, v in models.detector.state_dict().items())
    for net in models.folds[1:]:
        assert all(torch.equal(v, golden_state[k]) for k, v in net.state_dict().items())
    with torch.no_grad():
        outputs = tuple(models.folds[0](golden_images(), torch.tensor([2, 3])))
    errors = max_errors(outputs)
    assert max(errors.values()) < TOLERANCE, errors

    # A second import onto the same directory is refused; an altered weights file is detected.
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    weights = out / "fold_3.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelDirError, match=r"fold_3\.safetensors: SHA-256 .* differs"):
        load_published_model_dir(out, detector=False)


@pytest.mark.parametrize("bad", ["random", "code"])
def test_import_published_refuses_bad_input_with_exit_2(
    tmp_path: Path, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folds = tmp_path / "folds"
    folds.mkdir()
    for k in range(1, 6):
        (folds / f"fold_{k}.pth").write_bytes(b"placeholder")
    marker = tmp_path / "created-by-the-pickle"
    if bad == "random":
        (folds / "fold_1.pth").write_bytes(np.random.default_rng(3).bytes(2048))
    else:
        (folds / "fold_1.pth").write_bytes(pickle.dumps({"model": RunsCode(marker)}, protocol=2))
    detection = tmp_path / "detection.pth"
    detection.write_bytes(b"not used")
    out = tmp_path / "out"
    code = main(
        [
            "import-published",
            "--detection",
            str(detection),
            "--diagnosis",
            str(folds),
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("import-published: refused: ") and f"{folds / 'fold_1.pth'}:" in err
    assert "Traceback" not in err
    assert not out.exists() and not marker.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_import_published_names_missing_folds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "folds").mkdir()
    (tmp_path / "folds" / "fold_1.pth").write_bytes(b"x")
    code = main(
        [
            "import-published",
            "--detection",
            str(tmp_path / "d.pth"),
            "--diagnosis",
            str(tmp_path / "folds"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    assert "missing fold_2.pth, fold_3.pth, fold_4.pth, fold_5.pth" in capsys.readouterr().err
