"""``--dicom-dir DIR`` of ``python -m inference.ncls extract`` and ``run``: a scanner's export
folder stands for the video list, each cine as the orientation its series description names."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from inference.ncls.__main__ import build_parser, main
from inference.ncls.sweep_args import videos_of
from tests.inference.test_dicom_cine import write_cine

DEMO_DETECTOR = Path(__file__).resolve().parents[2] / "inference/ncls/demo_models/detector-lite"


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """A scanner export: three cines out of order in sub-folders, a still and a text file."""
    folder = tmp_path / "export"
    (folder / "series2").mkdir(parents=True)
    write_cine(
        folder / "series2" / "IM0001", "MONOCHROME2", description="NEO HEAD SAG LT", series=2
    )
    write_cine(folder / "IM0003", "RGB", description="NEO HEAD SAG RT", series=3)
    write_cine(folder / "IM0009", "MONOCHROME2", description="Neo Head COR", series=1)
    write_cine(folder / "still", "MONOCHROME2", frames=1, series=4)
    (folder / "DICOMDIR.txt").write_text("index")
    return folder


def _parse(*argv: str) -> Any:
    return build_parser().parse_args(list(argv))


def test_dicom_dir_gives_the_cines_in_acquisition_order_with_their_orientations(
    export: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (
        ["extract", "--detector", "D", "--out", "O"],
        ["run", "--models", "M", "--out", "O"],
    ):
        paths, declared = videos_of(_parse(*command, "--dicom-dir", str(export)))
        assert [p.relative_to(export).as_posix() for p in paths] == [
            "IM0009",
            "series2/IM0001",
            "IM0003",
        ]
        assert declared == ["coronal", "sagittal_left", "sagittal_right"]
    assert "left out" in capsys.readouterr().err
    # --orientation, once per cine in order, overrides the descriptions (a scanner's guess)
    args = _parse(
        "run",
        "--models",
        "M",
        "--out",
        "O",
        "--dicom-dir",
        str(export),
        "--orientation",
        "auto",
        "--orientation",
        "sagittal_right",
        "--orientation",
        "sagittal",
    )
    assert videos_of(args)[1] == [None, "sagittal_right", "sagittal"]
    args = _parse(
        "run", "--models", "M", "--out", "O", "--dicom-dir", str(export), "--orientation", "coronal"
    )
    with pytest.raises(SystemExit, match=r"3 video\(s\) but 1 --orientation value\(s\)"):
        videos_of(args)


def test_dicom_dir_refusals(export: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="either VIDEO arguments or --dicom-dir"):
        videos_of(_parse("run", "a.mp4", "--models", "M", "--out", "O", "--dicom-dir", str(export)))
    with pytest.raises(
        SystemExit, match=r"coronal=a\.mp4 is declared coronal but --orientation says"
    ):
        videos_of(
            _parse(
                "run", "coronal=a.mp4", "--models", "M", "--out", "O", "--orientation", "sagittal"
            )
        )  # both said by the user: a contradiction
    with pytest.raises(SystemExit, match="at least one VIDEO, or --dicom-dir"):
        videos_of(_parse("run", "--models", "M", "--out", "O"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit, match=r"--dicom-dir .*no DICOM cine in the folder"):
        videos_of(_parse("extract", "--detector", "D", "--out", "O", "--dicom-dir", str(empty)))


def test_extract_reads_a_dicom_folder_end_to_end(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "views"
    assert (
        main(
            [
                "extract",
                "--dicom-dir",
                str(export),
                "--detector",
                str(DEMO_DETECTOR),
                "--out",
                str(out),
                "--threads",
                "1",
            ]
        )
        == 0
    )
    record = json.loads((out / "views.json").read_text())
    videos = {Path(v["video"]).name: v for v in record["videos"]}
    assert list(videos) == ["IM0009", "IM0001", "IM0003"]
    assert [v["declared_orientation"] for v in videos.values()] == [
        "coronal",
        "sagittal_left",
        "sagittal_right",
    ]
    assert all(v["frames"] == 5 for v in videos.values())


def test_run_hands_the_dicom_folder_to_the_pipeline(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inference.ncls import pipeline as pipeline_module

    calls: list[tuple[list[str], list[str | None]]] = []

    class Recording:
        def run_videos(self, videos: list[Path], **kwargs: Any) -> Any:
            calls.append(([Path(v).name for v in videos], list(kwargs["orientations"])))
            diagnosis = SimpleNamespace(severe=False, severe_probability=0.1, rule="case_head")
            return SimpleNamespace(view_frames={}, diagnosis=diagnosis, timings_s={})

    monkeypatch.setattr(
        pipeline_module.NclsPipeline, "load", classmethod(lambda cls, *a, **k: Recording())
    )
    assert (
        main(
            [
                "run",
                "--dicom-dir",
                str(export),
                "--models",
                str(tmp_path / "m"),
                "--out",
                str(tmp_path / "out"),
                "--no-heatmaps",
            ]
        )
        == 0
    )
    assert calls == [
        (["IM0009", "IM0001", "IM0003"], ["coronal", "sagittal_left", "sagittal_right"])
    ]
