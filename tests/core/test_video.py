"""Streaming video input: MP4, AVI, DICOM cine (native and JPEG baseline), bad files."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from core.video import VideoError, open_video, read_frames
from tests.media_factories import (
    make_avi,
    make_dicom_cine,
    make_mp4,
    make_sweep_frames,
    truncate,
)

FRAMES = make_sweep_frames(12, 160, 128)


def _write(kind: str, path: Path) -> Path:
    if kind == "mp4":
        return make_mp4(path, FRAMES, fps=24)
    if kind == "avi":
        return make_avi(path, FRAMES, fps=24)
    if kind == "dicom-jpeg":
        return make_dicom_cine(path, FRAMES, jpeg=True, fps=24)
    if kind == "dicom-native-grey":
        return make_dicom_cine(path, FRAMES, jpeg=False, color=False, fps=24)
    return make_dicom_cine(path, FRAMES, jpeg=False, color=True, fps=24)


KINDS = ["mp4", "avi", "dicom-jpeg", "dicom-native-grey", "dicom-native-rgb"]


@pytest.mark.parametrize("kind", KINDS)
def test_open_video_streams_rgb_frames_with_declared_geometry(kind: str, tmp_path: Path) -> None:
    path = _write(kind, tmp_path / "sweep.bin")  # the name says nothing: magic bytes decide
    with open_video(path) as video:
        assert video.format == ("dicom" if kind.startswith("dicom") else kind)
        assert video.frame_count == len(FRAMES)
        assert video.fps == pytest.approx(24.0, abs=0.01)
        assert (video.width, video.height) == (160, 128)
        frames = list(video)
    assert len(frames) == len(FRAMES)
    for decoded, original in zip(frames, FRAMES, strict=True):
        assert decoded.dtype == np.uint8
        assert decoded.shape == (128, 160, 3)
        # Lossy codecs change pixels a little, never the picture.
        assert np.abs(decoded.astype(int) - original.astype(int)).mean() < 4.0


@pytest.mark.parametrize("kind", ["mp4", "dicom-jpeg", "dicom-native-grey"])
def test_read_frames_returns_only_the_asked_frames(kind: str, tmp_path: Path) -> None:
    path = _write(kind, tmp_path / "sweep")
    with open_video(path) as video:
        every = list(video)
    chosen = read_frames(path, [7, 2, 7])
    assert sorted(chosen) == [2, 7]
    for index, frame in chosen.items():
        np.testing.assert_array_equal(frame, every[index])


def test_read_frames_rejects_an_index_outside_the_video(tmp_path: Path) -> None:
    path = _write("mp4", tmp_path / "sweep.mp4")
    with pytest.raises(VideoError, match=r"frame 12 is outside 0\.\.11"):
        read_frames(path, [0, 12])


def test_single_frame_dicom_is_a_one_frame_video(tmp_path: Path) -> None:
    path = make_dicom_cine(tmp_path / "still.dcm", FRAMES[:1], jpeg=True)
    with open_video(path) as video:
        assert video.frame_count == 1
        assert len(list(video)) == 1


def test_dicom_frames_are_decoded_one_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole pixel array is never built: frames come from pydicom's iterator."""
    import pydicom.dataset

    def refuse(self: object) -> None:
        raise AssertionError("pixel_array must not be used")

    monkeypatch.setattr(pydicom.dataset.Dataset, "pixel_array", property(refuse))
    path = _write("dicom-jpeg", tmp_path / "sweep.dcm")
    with open_video(path) as video:
        iterator = iter(video)
        first = next(iterator)
        assert first.shape == (128, 160, 3)
        assert sum(1 for _ in iterator) == len(FRAMES) - 1


def test_frame_count_mismatch_names_both_numbers(tmp_path: Path) -> None:
    # A faststart MP4 keeps its index at the front, so a cut-off tail still opens.
    path = tmp_path / "cut.mp4"
    source = make_mp4(tmp_path / "full.mp4", make_sweep_frames(40, 160, 128), fps=24)
    with (
        av.open(str(source)) as src,
        av.open(str(path), "w", options={"movflags": "+faststart"}) as dst,
    ):
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    truncate(path, 0.5)
    with (
        open_video(path) as video,
        pytest.raises(VideoError, match=r"declares 40 frames but \d+ were decoded"),
    ):
        for _ in video:
            pass


@pytest.mark.parametrize("kind", ["avi", "dicom-jpeg", "dicom-native-grey", "mp4"])
def test_truncated_files_raise_video_error(kind: str, tmp_path: Path) -> None:
    path = truncate(_write(kind, tmp_path / "sweep"), 0.5)
    with pytest.raises(VideoError), open_video(path) as video:
        for _ in video:
            pass


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"this is a text file, not a video\n" * 10, "not an MP4, AVI or DICOM"),
        (np.random.default_rng(1).bytes(4096), "not an MP4, AVI or DICOM"),
        (b"\0" * 128 + b"DICM" + b"\x02\x00", "DICOM"),
    ],
)
def test_unreadable_files_raise_video_error(content: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "upload.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoError, match=message), open_video(path) as video:
        list(video)


def test_missing_file_raises_video_error(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="does not exist"):
        open_video(tmp_path / "nothing.mp4")


def test_video_error_is_a_value_error() -> None:
    assert issubclass(VideoError, ValueError)
