"""The published networks through onnxruntime: export, parity with PyTorch, engine choice.

One module-scoped model directory (golden-rule weights, as in ``test_published_pipeline``) is
exported once through the command line (``export-onnx --models DIR``); every test reads it.
Parity is checked on raw outputs at :data:`PARITY_TOLERANCE` (1e-4). The detector's 300
queries are the encoder tokens with the best class logit; where two of those selection scores
differ by a few 1e-7 the two engines may order them differently and two output rows swap (the
decoder is permutation-equivariant over queries): only such tied rows may be re-paired, as in
``test_published_detector``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from core.files import file_sha256
from inference.ncls.__main__ import main
from inference.ncls.backends import Options, load_detector, load_diagnoser
from inference.ncls.published.detector import build_detector, postprocess
from inference.ncls.published.diagnosis import build_diagnosis
from inference.ncls.published.model_dir import ModelDirError, import_published
from inference.ncls.published.onnx import (
    PARITY_TOLERANCE,
    SIDECAR,
    load_engine,
    onnx_dir,
    resolve_engine,
)
from inference.ncls.published.weight_rule import golden_weights

# One xdist worker runs the whole module, so the export (the ``exported`` fixture, about a
# minute on 2 cores) is made once per run rather than once on every worker that gets a test.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("published-onnx")]

SELECTION_TIE = 1e-5  # encoder query-selection logits (values near 3) closer than this are ties


def rule_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    entries = [
        [k, list(v.shape), str(v.dtype).removeprefix("torch.")]
        for k, v in module.state_dict().items()
    ]
    return golden_weights(entries)


def _import(root: Path) -> Path:
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


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A published model directory with its graphs, exported by ``export-onnx``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        models = _import(tmp_path_factory.mktemp("published"))
        assert main(["export-onnx", "--models", str(models)]) == 0
    finally:
        torch.set_num_threads(threads)
    return models


def test_sidecar_records_every_graph_and_its_source(exported: Path) -> None:
    sidecar = json.loads((onnx_dir(exported) / SIDECAR).read_text())
    record = json.loads((exported / "published.json").read_text())
    assert sidecar["detector"]["source_sha256"] == record["detector"]["sha256"]
    assert file_sha256(onnx_dir(exported) / "detector.onnx") == sidecar["detector"]["sha256"]
    assert [f["fold"] for f in sidecar["diagnosis"]["folds"]] == [1, 2, 3, 4, 5]
    for graph, source in zip(
        sidecar["diagnosis"]["folds"], record["diagnosis"]["folds"], strict=True
    ):
        assert graph["source_sha256"] == source["sha256"]
        assert file_sha256(onnx_dir(exported) / graph["onnx"]) == graph["sha256"]
    assert sidecar["model_version"] == record["version"]


def _align(ours: torch.Tensor, other: torch.Tensor, selection: torch.Tensor) -> torch.Tensor:
    """Index of our row matching each of ``other``'s; only tied selections may move."""
    perm = (other[:, None, :] - ours[None, :, :]).abs().amax(-1).argmin(1)
    assert sorted(perm.tolist()) == list(range(len(perm))), "rows do not map one-to-one"
    for i, j in enumerate(perm.tolist()):
        if i != j:
            gap = abs(float(selection[i] - selection[j]))
            assert gap <= SELECTION_TIE, f"query {i}↔{j} moved with selection gap {gap:.2e}"
    return perm


def test_detector_graph_matches_pytorch(exported: Path) -> None:
    torch.set_num_threads(2)
    model, _ = load_detector(exported, Options(engine="torch"))
    graph = load_engine(exported, diagnosis=False, threads=2).detector
    assert graph is not None
    captured: dict[str, torch.Tensor] = {}
    hook = model.model.decoder.enc_score_head.register_forward_hook(  # type: ignore[attr-defined]
        lambda _m, _i, out: captured.__setitem__("enc", out)
    )
    # batch 1 although the graph was traced at batch 2: the batch axis is dynamic
    x = torch.rand(1, 3, 640, 640, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = model.model(x)  # type: ignore[attr-defined]
    hook.remove()
    theirs = graph(x)
    assert theirs["pred_logits"].shape == (1, 300, 15)
    assert theirs["pred_boxes"].shape == (1, 300, 5)
    selection = captured["enc"].max(-1).values.topk(300, dim=-1).values[0]
    a = torch.cat([ours["pred_logits"], ours["pred_boxes"]], -1)[0]
    b = torch.cat([theirs["pred_logits"], theirs["pred_boxes"]], -1)[0]
    perm = _align(a, b, selection)
    err = float((a[perm] - b).abs().max())
    assert err <= PARITY_TOLERANCE, f"max abs difference {err:.2e}"


@pytest.mark.parametrize("lengths", [[6], [3, 2], [1, 6, 2]])
def test_diagnosis_graph_matches_pytorch_on_any_bags(exported: Path, lengths: list[int]) -> None:
    torch.set_num_threads(2)
    net = load_diagnoser(exported, Options(engine="torch", tta=1)).folds[0]  # type: ignore[attr-defined]
    graph = load_engine(exported, detector=False, threads=2).folds[0]
    images = torch.randn(sum(lengths), 3, 256, 256, generator=torch.Generator().manual_seed(3))
    bags = torch.tensor(lengths)
    with torch.no_grad():
        ours = net(images, bags)
    theirs = graph(images, bags)
    for name, a, b in zip(("case", "image", "plane"), ours, theirs, strict=True):
        assert a.shape == b.shape, name
        err = float((a - b).abs().max())
        assert err <= PARITY_TOLERANCE, f"{name} logits: max abs difference {err:.2e}"


def _views() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    views = {}
    for k, view in enumerate(("AHV", "TVV", "BV", "MSV", "RPSV", "LPSV")):
        frame = np.zeros((300 + 20 * k, 400, 3), np.uint8)
        frame[20:-20, 30:-30] = rng.integers(20, 230, size=(260 + 20 * k, 340, 3))
        views[view] = frame
    return views


def test_engines_give_the_same_case_decision(exported: Path) -> None:
    torch.set_num_threads(2)
    results = {}
    for engine in ("torch", "onnxruntime"):
        ensemble = load_diagnoser(exported, Options(engine=engine, tta=2))
        assert ensemble.describe()["engine"] == engine  # type: ignore[attr-defined]
        results[engine] = ensemble.diagnose(_views())
    a, b = results["torch"], results["onnxruntime"]
    assert abs(a.severe_probability - b.severe_probability) <= PARITY_TOLERANCE
    assert a.severe == b.severe and a.rule == b.rule
    assert a.image_labels.keys() == b.image_labels.keys()
    for view, prediction in a.image_labels.items():
        other = b.image_labels[view].probabilities
        assert prediction.probabilities.keys() == other.keys()
        assert np.allclose(
            [prediction.probabilities[label] for label in other],
            list(other.values()),
            atol=PARITY_TOLERANCE,
        )
    assert a.model_versions == b.model_versions


def test_engines_give_the_same_detections(exported: Path) -> None:
    """The frame detector's whole path (input transform, network, top-300 post-processing)
    on a decoded frame, per engine. Golden-rule weights score only the untrained classes
    10-14 highly, so every kept pair is compared here, before the anatomy-class filter."""
    torch.set_num_threads(2)
    rng = np.random.default_rng(9)
    frames = [rng.integers(0, 256, size=(480, 720, 3), dtype=np.uint8)]
    found = {}
    for engine in ("torch", "onnxruntime"):
        detector, record = load_detector(exported, Options(engine=engine))
        assert record["engine"] == engine
        with torch.no_grad():
            raw = detector.model(detector.inputs(frames))  # type: ignore[attr-defined]
        found[engine] = postprocess(raw, [(720, 480)])[0]
    a, b = found["torch"], found["onnxruntime"]
    assert len(a["labels"]) == len(b["labels"]) == 300
    order_a = np.lexsort((a["scores"].numpy(), a["labels"].numpy()))
    order_b = np.lexsort((b["scores"].numpy(), b["labels"].numpy()))
    assert np.array_equal(a["labels"].numpy()[order_a], b["labels"].numpy()[order_b])
    gap = np.abs(a["scores"].numpy()[order_a] - b["scores"].numpy()[order_b]).max()
    assert gap <= PARITY_TOLERANCE


def test_auto_picks_onnxruntime_only_where_the_graphs_are(exported: Path, tmp_path: Path) -> None:
    assert resolve_engine("auto", exported) == "onnxruntime"
    assert resolve_engine("auto", exported, dtype=torch.bfloat16) == "torch"
    assert resolve_engine("torch", exported) == "torch"
    bare = tmp_path / "bare"
    shutil.copytree(exported, bare, copy_function=os.link, ignore=shutil.ignore_patterns("onnx"))
    assert resolve_engine("auto", bare) == "torch"
    with pytest.raises(ModelDirError, match="export-onnx"):
        resolve_engine("onnxruntime", bare)
    with pytest.raises(ValueError, match="CPU"):
        resolve_engine("onnxruntime", exported, device="cuda")


def _linked_copy(exported: Path, target: Path) -> Path:
    shutil.copytree(exported, target, copy_function=os.link)
    return target


def test_altered_or_stale_graphs_are_refused(exported: Path, tmp_path: Path) -> None:
    altered = _linked_copy(exported, tmp_path / "altered")
    graph = onnx_dir(altered) / "fold_2.onnx"
    data = bytearray(graph.read_bytes())
    data[-1] ^= 1
    graph.unlink()  # a new file: the hard-linked original stays intact
    graph.write_bytes(bytes(data))
    with pytest.raises(ModelDirError, match="SHA-256"):
        load_engine(altered, detector=False)

    stale = _linked_copy(exported, tmp_path / "stale")
    sidecar_path = onnx_dir(stale) / SIDECAR
    sidecar: dict[str, Any] = json.loads(sidecar_path.read_text())
    sidecar["diagnosis"]["folds"][0]["source_sha256"] = "0" * 64
    sidecar_path.unlink()
    sidecar_path.write_text(json.dumps(sidecar))
    with pytest.raises(ModelDirError, match="other weights"):
        resolve_engine("auto", stale)


def test_onnxruntime_is_refused_for_our_own_models() -> None:
    with pytest.raises(ValueError, match="published model directories only"):
        load_detector(Path("inference/ncls/demo_models"), Options(engine="onnxruntime"))
