"""The pure media layer: detection, probing, DICOM de-identification, canonical renditions."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import av
import cv2
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.datadict import tag_for_keyword

from core.video import open_video
from tests.media_factories import (
    PHI,
    PRIVATE_PHI,
    FanGeometry,
    make_avi,
    make_dicom_cine,
    make_fan_frame,
    make_jpeg,
    make_mp4,
    make_png,
    make_sweep_frames,
    truncate,
)
from trials import media
from trials.media.dicom import BASIC_PROFILE

SMALL_SWEEP = make_sweep_frames(8, 320, 256)


# -- detection and probing ------------------------------------------------------------


def _good_file(kind: str, path: Path) -> Path:
    frame = SMALL_SWEEP[0]
    makers = {
        "png": lambda: make_png(path, frame),
        "jpeg": lambda: make_jpeg(path, frame),
        "mp4": lambda: make_mp4(path, SMALL_SWEEP, fps=25),
        "avi": lambda: make_avi(path, SMALL_SWEEP, fps=25),
        "dicom": lambda: make_dicom_cine(path, SMALL_SWEEP, jpeg=True),
        "dicom-native": lambda: make_dicom_cine(path, SMALL_SWEEP, jpeg=False),
        "dicom-single": lambda: make_dicom_cine(path, SMALL_SWEEP[:1], jpeg=True),
    }
    return makers[kind]()


@pytest.mark.parametrize(
    ("kind", "expected", "frames", "fps"),
    [
        ("png", media.MediaKind.PNG, 1, 0.0),
        ("jpeg", media.MediaKind.JPEG, 1, 0.0),
        ("mp4", media.MediaKind.MP4, 8, 25.0),
        ("avi", media.MediaKind.AVI, 8, 25.0),
        ("dicom", media.MediaKind.DICOM, 8, 25.0),
        ("dicom-native", media.MediaKind.DICOM, 8, 25.0),
        ("dicom-single", media.MediaKind.DICOM, 1, 25.0),
    ],
)
def test_probe_reads_kind_and_geometry_from_the_bytes(
    kind: str, expected: media.MediaKind, frames: int, fps: float, tmp_path: Path
) -> None:
    # A misleading name: the bytes decide.
    path = _good_file(kind, tmp_path / "upload.txt")
    assert media.detect_kind(path) is expected
    info = media.probe(path)
    assert info == media.MediaInfo(
        kind=expected, width=320, height=256, frame_count=frames, fps=fps, is_multiframe=frames > 1
    )


def _faststart_mp4(path: Path) -> Path:
    source = make_mp4(path.with_suffix(".src"), make_sweep_frames(30, 160, 128), fps=25)
    with (
        av.open(str(source)) as src,
        av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as dst,
    ):
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    return path


def _bad_file(case: str, path: Path) -> Path:
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text-named-mp4":
        path.write_text("not a video at all\n" * 20)
    elif case == "random-bytes":
        path.write_bytes(np.random.default_rng(7).bytes(10_000))
    elif case == "heic":
        path.write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 100)
    elif case == "dicom-without-image":
        ds = pydicom.Dataset()
        ds.PatientName = "X"
        ds.file_meta = pydicom.dataset.FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = pydicom.uid.UltrasoundImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        ds.save_as(path, enforce_file_format=True)
    elif case == "truncated-png":
        truncate(_good_file("png", path), 0.6)
    elif case == "truncated-jpeg":
        truncate(_good_file("jpeg", path), 0.6)
    elif case == "truncated-mp4":
        truncate(_good_file("mp4", path), 0.6)
    elif case == "truncated-faststart-mp4":
        truncate(_faststart_mp4(path), 0.6)
    elif case == "truncated-avi":
        truncate(_good_file("avi", path), 0.6)
    elif case == "truncated-dicom-jpeg":
        truncate(_good_file("dicom", path), 0.6)
    elif case == "truncated-dicom-native":
        truncate(_good_file("dicom-native", path), 0.6)
    elif case == "truncated-dicom-header":
        truncate(_good_file("dicom", path), 0.02)
    else:  # pragma: no cover
        raise AssertionError(case)
    return path


BAD_FILES = {
    "empty": ("empty", "empty"),
    "text-named-mp4": ("unknown_type", "type is not accepted"),
    "random-bytes": ("unknown_type", "type is not accepted"),
    "heic": ("unknown_type", "HEIC"),
    "dicom-without-image": ("unsupported", "no image"),
    "truncated-png": ("truncated", "truncated"),
    "truncated-jpeg": ("truncated", "truncated"),
    "truncated-mp4": ("truncated", "truncated"),
    "truncated-faststart-mp4": ("truncated", "truncated"),
    "truncated-avi": ("truncated", "truncated"),
    "truncated-dicom-jpeg": ("truncated", "truncated"),
    "truncated-dicom-native": ("truncated", "truncated"),
    "truncated-dicom-header": ("truncated", "truncated"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_are_refused_with_a_clear_message(case: str, tmp_path: Path) -> None:
    path = _bad_file(case, tmp_path / "upload.mp4")
    code, message = BAD_FILES[case]
    for check in (media.detect_kind, media.probe):
        with pytest.raises(media.MediaError, match=message) as caught:
            check(path)
        assert caught.value.code == code
        assert "upload.mp4" not in str(caught.value)  # the caller names the upload
        assert isinstance(caught.value, ValueError)


def test_oversized_file_is_refused_before_reading_it(tmp_path: Path) -> None:
    path = _good_file("png", tmp_path / "big.png")
    with pytest.raises(media.MediaError, match="too large") as caught:
        media.probe(path, max_bytes=1000)
    assert caught.value.code == "too_large"
    assert media.probe(path, max_bytes=path.stat().st_size).kind is media.MediaKind.PNG


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(media.MediaError) as caught:
        media.detect_kind(tmp_path / "gone.png")
    assert caught.value.code == "missing"


def test_whole_jpeg_with_damaged_data_fails_probe(tmp_path: Path) -> None:
    """Structure intact (ends with EOI) but the header is destroyed: decoding must fail."""
    path = _good_file("jpeg", tmp_path / "view.jpg")
    data = bytearray(path.read_bytes())
    data[20:400] = b"\x00" * 380
    path.write_bytes(bytes(data))
    with pytest.raises(media.MediaError, match="cannot be decoded"):
        media.probe(path)


def test_tiny_image_is_refused(tmp_path: Path) -> None:
    path = make_png(tmp_path / "tiny.png", np.full((8, 8, 3), 128, np.uint8))
    with pytest.raises(media.MediaError) as caught:
        media.probe(path)
    assert caught.value.code == "bad_size"


# -- DICOM de-identification ----------------------------------------------------------


def _phi_dicom(path: Path, *, jpeg: bool = True) -> Path:
    make_dicom_cine(path, SMALL_SWEEP[:3], jpeg=jpeg, with_phi=True)
    ds = pydicom.dcmread(path)
    # Identifying values nested in a sequence, outside the profile's table.
    item = pydicom.Dataset()
    item.HumanPerformerName = "NESTED^NURSE"
    item.ReferencedDateTime = "20240301101522"
    ds.ProcedureCodeSequence = pydicom.Sequence([item])
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("jpeg", [True, False])
def test_deidentified_dicom_keeps_no_identifying_value(jpeg: bool, tmp_path: Path) -> None:
    src = _phi_dicom(tmp_path / "phi.dcm", jpeg=jpeg)
    before = pydicom.dcmread(src)
    old_uids = [
        before.SOPInstanceUID,
        before.StudyInstanceUID,
        before.SeriesInstanceUID,
        before.FrameOfReferenceUID,
    ]
    dst = tmp_path / "clean.dcm"
    media.deidentify_dicom(src, dst)
    raw = dst.read_bytes()
    leaked = [
        value
        for value in [*PHI.values(), PRIVATE_PHI, "NESTED^NURSE", *old_uids]
        if value.encode() in raw
    ]
    assert leaked == []
    for fragment in ("DOE", "Elsewhere", "HOUSE", "20240301", "101522", "ACME"):
        assert fragment.encode() not in raw
    after = pydicom.dcmread(dst)
    assert not any(element.tag.is_private for element in after)
    assert after.PatientIdentityRemoved == "YES"
    assert after.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert after.SOPClassUID == before.SOPClassUID  # well-known UIDs are kept
    assert after.file_meta.MediaStorageSOPInstanceUID == after.SOPInstanceUID
    assert after.PatientName == "" and after.StudyDate == ""
    assert "InstitutionName" not in after and "DeviceSerialNumber" not in after
    # The image survives untouched and still streams.
    with open_video(dst) as video:
        assert video.frame_count == 3
        assert len(list(video)) == 3
    assert media.probe(dst).frame_count == 3


def test_uid_map_keeps_the_files_of_one_case_linked(tmp_path: Path) -> None:
    first = _phi_dicom(tmp_path / "a.dcm")
    second = tmp_path / "b.dcm"
    ds = pydicom.dcmread(first)
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(second, enforce_file_format=True)
    uid_map: dict[str, str] = {}
    media.deidentify_dicom(first, tmp_path / "a2.dcm", uid_map=uid_map)
    media.deidentify_dicom(second, tmp_path / "b2.dcm", uid_map=uid_map)
    a, b = pydicom.dcmread(tmp_path / "a2.dcm"), pydicom.dcmread(tmp_path / "b2.dcm")
    assert a.StudyInstanceUID == b.StudyInstanceUID != ds.StudyInstanceUID
    assert a.SOPInstanceUID != b.SOPInstanceUID


def test_profile_table_names_only_real_attributes() -> None:
    assert [k for k in BASIC_PROFILE if tag_for_keyword(k) is None] == []


def test_deidentify_refuses_a_non_dicom_file(tmp_path: Path) -> None:
    src = tmp_path / "x.dcm"
    src.write_text("hello")
    with pytest.raises(media.MediaError):
        media.deidentify_dicom(src, tmp_path / "y.dcm")


# -- canonical image renditions -------------------------------------------------------


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        chunks.append((kind, data[offset + 8 : offset + 8 + length] if kind == b"IHDR" else b""))
        offset += 12 + length
    return chunks


def _canvas(rendition: media.Rendition) -> np.ndarray:
    with Image.open(io.BytesIO(rendition.data)) as image:
        assert image.mode == "L"
        assert image.size == (media.CANVAS_WIDTH, media.CANVAS_HEIGHT)
        assert image.info == {}  # no text, EXIF, ICC, gamma, dpi
        return np.asarray(image)


def _fan_on_canvas(width: int, height: int, crop: media.RenditionCrop, grow: int) -> np.ndarray:
    """The factory's fan mask mapped onto the canvas, grown by ``grow`` pixels."""
    fan = FanGeometry(width, height).mask().astype(np.uint8)[crop.y0 : crop.y1, crop.x0 : crop.x1]
    size = (round(fan.shape[1] * crop.scale), round(fan.shape[0] * crop.scale))
    placed: np.ndarray = np.zeros((crop.canvas_height, crop.canvas_width), np.uint8)
    resized = cv2.resize(fan, size, interpolation=cv2.INTER_NEAREST)
    h, w = (
        min(resized.shape[0], crop.canvas_height - crop.offset_y),
        min(resized.shape[1], crop.canvas_width - crop.offset_x),
    )
    placed[crop.offset_y : crop.offset_y + h, crop.offset_x : crop.offset_x + w] = resized[:h, :w]
    if grow:
        placed = cv2.dilate(placed, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    return placed.astype(bool)


@pytest.mark.parametrize(("width", "height"), [(850, 648), (1442, 898), (400, 300)])
def test_burned_in_text_and_bars_are_gone(width: int, height: int) -> None:
    with_overlays = media.render_view(make_fan_frame(width, height, overlays=True))
    clean = media.render_view(make_fan_frame(width, height, overlays=False))
    # Date, machine name, "RIGHT", grey bar and depth scale leave no trace at all.
    assert with_overlays.data == clean.data
    canvas = _canvas(with_overlays)
    assert not canvas[~_fan_on_canvas(width, height, with_overlays.crop, grow=1)].any()
    # ... while the sector itself is kept (the black ventricle inside it included).
    inner = _fan_on_canvas(width, height, with_overlays.crop, grow=0)
    assert (canvas[inner] > 0).mean() > 0.95
    assert with_overlays.crop.source_width == width


def test_rendition_format_is_fixed_and_metadata_free(tmp_path: Path) -> None:
    """PNG with tEXt, JPEG with EXIF, JPEG-in-DICOM and a video frame, at three sizes:
    the renditions are indistinguishable in format, size, byte length and chunks."""
    scene = make_fan_frame(1280, 1024, seed=3)
    small = cv2.resize(scene, (640, 512), interpolation=cv2.INTER_AREA)
    mid = cv2.resize(scene, (960, 768), interpolation=cv2.INTER_AREA)
    png = make_png(tmp_path / "view.png", scene, with_metadata=True)
    jpeg = make_jpeg(tmp_path / "view.jpg", mid, with_exif=True)
    dicom = make_dicom_cine(tmp_path / "view.dcm", [mid], jpeg=True)
    video = make_mp4(tmp_path / "sweep.mp4", [small, small, small], fps=25)
    renditions = [
        media.render_view(media.load_image(png)),
        media.render_view(media.load_image(jpeg)),
        media.render_view(media.load_image(dicom)),
        media.render_view(media.load_frame(video, 1)),
    ]
    reference = renditions[0]
    canvases = [_canvas(r) for r in renditions]
    for rendition, canvas in zip(renditions, canvases, strict=True):
        assert rendition.content_type == "image/png"
        assert (rendition.width, rendition.height) == (640, 512)
        assert len(rendition.data) == media.VIEW_BYTES == len(reference.data)
        assert _png_chunks(rendition.data) == _png_chunks(reference.data)
        assert [kind for kind, _ in _png_chunks(rendition.data)] == [b"IHDR", b"IDAT", b"IEND"]
        # Same scene, same place on the canvas: only codec noise differs.
        assert np.abs(canvas.astype(int) - canvases[0].astype(int)).mean() < 6
    assert len({r.sha256 for r in renditions}) == len(renditions)


def test_render_view_is_deterministic_and_hash_is_of_the_bytes() -> None:
    frame = make_fan_frame(640, 480, seed=5)
    first, second = media.render_view(frame), media.render_view(frame.copy())
    assert first.data == second.data
    import hashlib

    assert first.sha256 == hashlib.sha256(first.data).hexdigest()


def test_grey_and_rgb_frames_give_the_same_rendition() -> None:
    frame = make_fan_frame(640, 480, seed=6)
    assert media.render_view(frame).data == media.render_view(frame[:, :, 0].copy()).data


def test_crop_maps_canvas_points_back_to_the_frame() -> None:
    rendition = media.render_view(make_fan_frame(850, 648))
    crop = rendition.crop
    x, y = crop.to_source(*crop.to_canvas(np.array([100.0, 700.0]), np.array([80.0, 500.0])))
    np.testing.assert_allclose(x, [100.0, 700.0])
    np.testing.assert_allclose(y, [80.0, 500.0])
    assert crop.as_dict()["scale"] == crop.scale


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((300, 400, 3), np.uint8),
        np.ones((300, 400), np.float32),
        np.zeros((3, 4, 5), np.uint8),
    ],
    ids=["black", "float", "five-channels"],
)
def test_render_view_refuses_frames_without_a_sector(frame: np.ndarray) -> None:
    with pytest.raises(media.MediaError):
        media.render_view(frame)


# -- canonical video renditions -------------------------------------------------------


@pytest.mark.parametrize("kind", ["mp4", "dicom"])
def test_render_video_writes_a_streamable_canonical_sweep(kind: str, tmp_path: Path) -> None:
    frames = make_sweep_frames(12, 480, 360)
    source = tmp_path / "sweep"
    if kind == "mp4":
        make_mp4(source, frames, fps=25)
    else:
        make_dicom_cine(source, frames, jpeg=True, fps=25)
    out = tmp_path / "out" / "rendition.mp4"
    info = media.render_video(source, out, fps=15)
    assert (info.width, info.height, info.frame_count, info.fps) == (640, 512, 12, 15.0)
    assert info.content_type == "video/mp4" and info.size_bytes == out.stat().st_size
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart: browsers stream it
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.average_rate is not None and float(stream.average_rate) == 15.0
        assert set(container.metadata) <= {"major_brand", "minor_version", "compatible_brands"}
        assert "encoder" not in stream.metadata and "creation_time" not in stream.metadata
    with open_video(out) as video:
        decoded = list(video)
    assert len(decoded) == 12
    # Outside the fan (with a margin for H.264's blocks) the picture is black.
    outside = ~_fan_on_canvas(480, 360, info.crop, grow=6)
    assert max(int(frame[..., 0][outside].max()) for frame in decoded) <= 12
    # The same input gives the same bytes; nothing else was left in the folder.
    again = media.render_video(source, tmp_path / "again.mp4", fps=15)
    assert again.sha256 == info.sha256
    assert sorted(p.name for p in out.parent.iterdir()) == ["rendition.mp4"]


def test_render_video_removes_overlays_like_render_view(tmp_path: Path) -> None:
    with_text = make_mp4(tmp_path / "a.mp4", make_sweep_frames(6, 480, 360, overlays=True))
    without = make_mp4(tmp_path / "b.mp4", make_sweep_frames(6, 480, 360, overlays=False))
    a = media.render_video(with_text, tmp_path / "a_out.mp4", fps=25)
    b = media.render_video(without, tmp_path / "b_out.mp4", fps=25)
    assert a.crop == b.crop


def test_render_video_of_a_truncated_file_leaves_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    source = truncate(_good_file("avi", folder / "sweep.avi"), 0.5)
    with pytest.raises(media.MediaError):
        media.render_video(source, folder / "out.mp4", fps=25)
    assert sorted(p.name for p in folder.iterdir()) == ["sweep.avi"]


def test_render_video_refuses_a_bad_frame_rate(tmp_path: Path) -> None:
    with pytest.raises(media.MediaError, match="frame rate"):
        media.render_video(tmp_path / "x.mp4", tmp_path / "y.mp4", fps=0)


def test_text_one_pixel_from_the_fan_is_removed():
    """Burned-in text 2 px from the sector is cut off; at most a sliver hugging the edge stays.

    Morphology cannot separate pixels that touch the fan's edge from the fan itself, so
    what survives must lie within 6 px of the fan (no legible text) and be a small part
    of the word.
    """
    import cv2 as _cv2

    from core.roi import find_sector
    from tests.media_factories import FanGeometry, make_fan_frame

    frame = make_fan_frame(850, 648, overlays=False, seed=3)
    fan = FanGeometry(850, 648).mask()
    rows = np.flatnonzero(fan.any(axis=1))
    top = int(rows[0])
    right_edge = int(np.flatnonzero(fan[top + 40])[-1])
    _cv2.putText(
        frame,
        "LOGIQ E9",
        (right_edge + 2, top + 46),
        _cv2.FONT_HERSHEY_SIMPLEX,
        0.6,
        (230, 230, 230),
        2,
    )
    text = (frame[..., 0] > 0) & ~fan
    mask = find_sector(frame).mask
    outside = mask & ~fan
    near_fan = _cv2.dilate(fan.astype(np.uint8), np.ones((13, 13), np.uint8)).astype(bool)
    assert not (outside & ~near_fan).any()
    assert outside.sum() < 0.15 * text.sum()
    assert (fan & ~mask).sum() < 0.001 * fan.sum()
