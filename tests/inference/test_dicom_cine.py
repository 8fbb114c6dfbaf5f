"""DICOM cine input as scanners write it: photometric interpretations, timing, calibration,
folders of cines (``--dicom-dir``) and clear refusals."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import convert_color_space
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)

from core.video import (
    VideoError,
    dicom_cines,
    dicom_orientation,
    open_video,
    read_frames,
)

W, H, T = 64, 48, 5


def _rgb_frames() -> np.ndarray:
    """Smooth colour frames (chroma varies slowly, so 4:2:2 subsampling loses little)."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    frames = []
    for t in range(T):
        r = 40 + 150 * x / W + 5 * t
        g = 30 + 120 * y / H
        b = 200 - 120 * x / W + 3 * t
        frames.append(np.stack([r, g, b], axis=2))
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


RGB = _rgb_frames()
GREY = RGB.mean(axis=3).astype(np.uint8)


def _dataset(path: Path, transfer_syntax: str) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = UID(transfer_syntax)
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    ds.Rows, ds.Columns = H, W
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    return ds


def _ybr_422(ybr: np.ndarray) -> bytes:
    """Native YBR_FULL_422 bytes: Y1 Y2 Cb Cr per horizontal pixel pair (chroma averaged)."""
    pairs = ybr.reshape(*ybr.shape[:-2], W // 2, 2, 3).astype(np.float64)
    out = np.empty((*ybr.shape[:-2], W // 2, 4), np.uint8)
    out[..., 0:2] = pairs[..., 0]
    out[..., 2] = np.round(pairs[..., 1].mean(axis=-1))
    out[..., 3] = np.round(pairs[..., 2].mean(axis=-1))
    return out.tobytes()


def write_cine(
    path: Path,
    photometric: str,
    *,
    frames: int = T,
    jpeg: bool = False,
    timing: str = "CineRate",
    description: str = "",
    series: int = 1,
) -> Path:
    """A small ultrasound multi-frame DICOM of :data:`RGB` / :data:`GREY` in one encoding."""
    ds = _dataset(path, JPEGBaseline8Bit if jpeg else ExplicitVRLittleEndian)
    ds.NumberOfFrames = frames
    if timing == "CineRate":
        ds.CineRate = 25
    else:
        ds.FrameTime = "40.0"  # ms: 25 frames per second
    ds.SeriesNumber = series
    if description:
        ds.SeriesDescription = description
    colour = photometric not in ("MONOCHROME1", "MONOCHROME2")
    ds.SamplesPerPixel = 3 if colour else 1
    if colour:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    rgb, grey = RGB[:frames], GREY[:frames]
    if jpeg:
        fragments = []
        for frame in rgb:
            buffer = io.BytesIO()
            Image.fromarray(frame).save(buffer, format="JPEG", quality=95, subsampling=1)
            fragments.append(buffer.getvalue())
        ds.PixelData = encapsulate(fragments)
        ds["PixelData"].VR = "OB"
    elif photometric == "MONOCHROME2":
        ds.PixelData = grey.tobytes()
    elif photometric == "MONOCHROME1":
        ds.PixelData = (255 - grey).tobytes()  # white = 0: the display inverts it back
    elif photometric == "RGB":
        ds.PixelData = rgb.tobytes()
    elif photometric == "YBR_FULL":
        ds.PixelData = convert_color_space(rgb.copy(), "RGB", "YBR_FULL", per_frame=True).tobytes()
    elif photometric == "YBR_FULL_422":
        ds.PixelData = _ybr_422(convert_color_space(rgb.copy(), "RGB", "YBR_FULL", per_frame=True))
    else:  # pragma: no cover - test helper misuse
        raise ValueError(photometric)
    if not jpeg:
        ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return path


CASES = [
    # (photometric, jpeg, expected frames, mean abs tolerance, max abs tolerance)
    ("MONOCHROME2", False, "grey", 0.0, 0),
    ("MONOCHROME1", False, "grey", 0.0, 0),
    ("RGB", False, "rgb", 0.0, 0),
    ("YBR_FULL", False, "rgb", 0.6, 2),
    ("YBR_FULL_422", False, "rgb", 1.0, 6),
    ("YBR_FULL_422", True, "rgb", 2.5, 20),  # JPEG baseline, Pillow-encoded, pylibjpeg-decoded
]


@pytest.mark.parametrize(
    ("photometric", "jpeg", "expect", "mean_tol", "max_tol"),
    CASES,
    ids=[f"{c[0]}{'-jpeg' if c[1] else ''}" for c in CASES],
)
def test_photometric_interpretations_decode_to_the_source_picture(
    tmp_path: Path,
    photometric: str,
    jpeg: bool,
    expect: str,
    mean_tol: float,
    max_tol: int,
) -> None:
    path = write_cine(tmp_path / "cine.dcm", photometric, jpeg=jpeg)
    with open_video(path, require_cine=True) as video:
        assert (video.width, video.height, video.frame_count) == (W, H, T)
        assert video.fps == pytest.approx(25.0)
        decoded = np.stack(list(video))
    want = RGB if expect == "rgb" else np.repeat(GREY[..., None], 3, axis=3)
    assert decoded.shape == want.shape and decoded.dtype == np.uint8
    error = np.abs(decoded.astype(int) - want.astype(int))
    assert error.mean() <= mean_tol and error.max() <= max_tol, (error.mean(), error.max())
    # one frame alone decodes the same
    np.testing.assert_array_equal(read_frames(path, [3])[3], decoded[3])


def test_frame_rate_from_frame_time_and_spacing_from_ultrasound_regions(tmp_path: Path) -> None:
    path = write_cine(tmp_path / "cine.dcm", "MONOCHROME2", timing="FrameTime")
    with open_video(path) as video:
        assert video.fps == pytest.approx(25.0)
        assert video.pixel_spacing_mm is None
    from pydicom import dcmread

    ds = dcmread(path)
    small, bmode = Dataset(), Dataset()
    for region, (x1, y1, delta) in ((small, (10, 10, 0.5)), (bmode, (W - 1, H - 1, 0.012))):
        region.RegionSpatialFormat = 1
        region.RegionLocationMinX0, region.RegionLocationMinY0 = 0, 0
        region.RegionLocationMaxX1, region.RegionLocationMaxY1 = x1, y1
        region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3  # cm
        region.PhysicalDeltaX, region.PhysicalDeltaY = delta, delta * 1.5
    ds.SequenceOfUltrasoundRegions = [small, bmode]
    ds.save_as(path)
    with open_video(path) as video:
        assert video.pixel_spacing_mm == pytest.approx((0.12, 0.18))  # the largest region, in mm
    del ds.SequenceOfUltrasoundRegions
    ds.PixelSpacing = [0.2, 0.3]  # row (y), column (x)
    ds.save_as(path)
    with open_video(path) as video:
        assert video.pixel_spacing_mm == pytest.approx((0.3, 0.2))


def test_a_dicom_without_pixel_data_is_refused_clearly(tmp_path: Path) -> None:
    path = write_cine(tmp_path / "cine.dcm", "MONOCHROME2")
    from pydicom import dcmread

    ds = dcmread(path)
    del ds.PixelData
    ds.save_as(path)
    with pytest.raises(VideoError, match="without pixel data"):
        open_video(path)


def test_a_single_frame_is_refused_where_a_cine_is_required(tmp_path: Path) -> None:
    path = write_cine(tmp_path / "still.dcm", "MONOCHROME2", frames=1)
    with open_video(path) as video:  # a still is a one-frame video by default
        assert video.frame_count == 1
    with pytest.raises(VideoError, match=r"single frame .* cine sweep"):
        open_video(path, require_cine=True)


def test_dicom_folder_lists_cines_in_acquisition_order_with_their_orientation(
    tmp_path: Path,
) -> None:
    (tmp_path / "sub").mkdir()
    write_cine(tmp_path / "b.dcm", "MONOCHROME2", description="NEO HEAD SAG RT", series=3)
    write_cine(tmp_path / "sub" / "a.dcm", "RGB", description="Neo Head COR", series=1)
    write_cine(tmp_path / "c", "YBR_FULL", description="Sag Left", series=4)
    write_cine(tmp_path / "still.dcm", "MONOCHROME2", frames=1, series=2)
    (tmp_path / "notes.txt").write_text("not a DICOM")
    folder = dicom_cines(tmp_path)
    assert [c.path.name for c in folder.cines] == ["a.dcm", "b.dcm", "c"]
    assert folder.orientations == ["coronal", "sagittal_right", "sagittal_left"]
    assert folder.videos() == ([c.path for c in folder.cines], folder.orientations)
    assert all(c.frame_count == T and c.fps == pytest.approx(25.0) for c in folder.cines)
    assert {p.name: r for p, r in folder.skipped.items()}.keys() == {"still.dcm", "notes.txt"}
    assert "single frame" in folder.skipped[tmp_path / "still.dcm"]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "still.dcm").write_bytes((tmp_path / "still.dcm").read_bytes())
    with pytest.raises(
        VideoError, match=r"no DICOM cine in the folder .*still\.dcm: a single frame"
    ):
        dicom_cines(empty)
    with pytest.raises(VideoError, match="does not exist"):
        dicom_cines(tmp_path / "missing")


@pytest.mark.parametrize(
    ("text", "orientation"),
    [
        ("NEO HEAD COR", "coronal"),
        ("Coronal sweep", "coronal"),
        ("SAG", "sagittal"),
        ("Sag R", "sagittal_right"),
        ("PARASAG LT", "sagittal_left"),
        ("Neo Head", None),
        ("COR/SAG", None),
        ("", None),
    ],
)
def test_dicom_orientation_from_the_series_description(text: str, orientation: str | None) -> None:
    assert dicom_orientation(text) == orientation
