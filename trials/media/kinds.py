"""What an uploaded file is, decided by its bytes, and whether it really decodes."""

from __future__ import annotations

import enum
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

from trials.media.errors import MediaError

#: Default upper bound for an upload (a 250-frame 1442×898 DICOM cine, uncompressed, is ~1 GB).
DEFAULT_MAX_BYTES = 2 * 1024**3

#: Frames smaller than this in either direction are not ultrasound images.
MIN_SIDE = 16
#: Frames larger than this in either direction are refused (decompression bombs).
MAX_SIDE = 8192

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOI = b"\xff\xd8\xff"
# ISO base media brands that are still images, not videos.
_IMAGE_BRANDS = {b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis"}


class MediaKind(enum.Enum):
    """The file types Fontanelle accepts; the value is what ``Asset.media_format`` stores."""

    MP4 = "mp4"
    AVI = "avi"
    DICOM = "dicom"
    PNG = "png"
    JPEG = "jpeg"

    @property
    def is_video_container(self) -> bool:
        """MP4 and AVI always hold a video; DICOM may hold one frame or many."""
        return self in (MediaKind.MP4, MediaKind.AVI)


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` found out by decoding the file."""

    kind: MediaKind
    width: int
    height: int
    frame_count: int
    fps: float  # 0.0 for still images and DICOM that declares no frame rate
    is_multiframe: bool


def detect_kind(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> MediaKind:
    """Tell the type of ``path`` from its magic bytes and check its structure is whole.

    The file name and extension are ignored. Cheap structural checks catch truncation
    without decoding: a PNG must end with its IEND chunk (chunk CRCs are checked), a
    JPEG with its EOI marker, the top-level boxes of an MP4 must fill the file and hold
    ``moov`` and ``mdat``, an AVI must be as long as its RIFF header says, and a DICOM
    file's pixel data must be complete.

    Raises
    ------
    MediaError
        If the file is missing, empty, larger than ``max_bytes``, of an unknown type or
        truncated.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise MediaError("the file cannot be read", code="missing") from exc
    if not path.is_file():
        raise MediaError("the file cannot be read", code="missing")
    if size == 0:
        raise MediaError("the file is empty", code="empty")
    if size > max_bytes:
        raise MediaError(
            f"the file is too large ({_megabytes(size)}; at most {_megabytes(max_bytes)} accepted)",
            code="too_large",
        )
    with path.open("rb") as handle:
        head = handle.read(132)
    if head.startswith(_PNG_SIGNATURE):
        _check_png(path)
        return MediaKind.PNG
    if head.startswith(_JPEG_SOI):
        _check_jpeg(path, size)
        return MediaKind.JPEG
    if len(head) >= 132 and head[128:132] == b"DICM":
        _check_dicom(path, size)
        return MediaKind.DICOM
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        _check_avi(head, size)
        return MediaKind.AVI
    if len(head) >= 12 and head[4:8] == b"ftyp":
        if head[8:12] in _IMAGE_BRANDS:
            raise MediaError(
                "HEIC/AVIF images are not accepted; use PNG, JPEG or DICOM", code="unknown_type"
            )
        _check_mp4(path, size)
        return MediaKind.MP4
    raise MediaError(
        "the file type is not accepted: expected MP4, AVI, DICOM, PNG or JPEG", code="unknown_type"
    )


def probe(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> MediaInfo:
    """Detect the kind of ``path`` and decode it completely to prove it is usable.

    Videos and DICOM cines are decoded frame by frame (bounded memory); the number of
    decoded frames must match what the file declares.

    Raises
    ------
    MediaError
        For every reason :func:`detect_kind` gives, and if the content does not decode
        or its frames have an implausible size.
    """
    path = Path(path)
    kind = detect_kind(path, max_bytes=max_bytes)
    if kind in (MediaKind.PNG, MediaKind.JPEG):
        info = _probe_still(path, kind)
    else:
        info = _probe_video(path, kind)
    _check_size(info.width, info.height)
    return info


def _probe_still(path: Path, kind: MediaKind) -> MediaInfo:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                _check_size(width, height)
                if getattr(image, "n_frames", 1) > 1:
                    raise MediaError("animated images are not accepted", code="unsupported")
                image.load()
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError("the image is too large in pixels", code="bad_size") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise MediaError(
            f"the {kind.value.upper()} image cannot be decoded (damaged or truncated)",
            code="undecodable",
        ) from exc
    return MediaInfo(kind, width, height, frame_count=1, fps=0.0, is_multiframe=False)


def _probe_video(path: Path, kind: MediaKind) -> MediaInfo:
    from core.video import VideoError, open_video

    try:
        with open_video(path) as video:
            _check_size(video.width, video.height)
            decoded = 0
            for frame in video:
                if frame.shape[:2] != (video.height, video.width):
                    raise MediaError(
                        "the frames of the video do not all have the same size", code="undecodable"
                    )
                decoded += 1
            fps = video.fps
    except VideoError as exc:
        code = "truncated" if "were decoded" in exc.reason else "undecodable"
        raise MediaError(f"the file cannot be decoded: {exc.reason}", code=code) from exc
    if kind.is_video_container and fps <= 0:
        raise MediaError("the video declares no frame rate", code="undecodable")
    return MediaInfo(
        kind,
        video.width,
        video.height,
        frame_count=decoded,
        fps=float(fps),
        is_multiframe=decoded > 1,
    )


def _check_size(width: int, height: int) -> None:
    if min(width, height) < MIN_SIDE or max(width, height) > MAX_SIDE:
        raise MediaError(
            f"the image size {width}×{height} is outside {MIN_SIDE}..{MAX_SIDE} pixels",
            code="bad_size",
        )


def _truncated(what: str) -> MediaError:
    return MediaError(f"the {what} file is truncated or damaged", code="truncated")


def _check_png(path: Path) -> None:
    """Walk the chunks: each must fit in the file with a valid CRC; IEND must end it."""
    with path.open("rb") as handle:
        handle.seek(len(_PNG_SIGNATURE))
        seen_idat = False
        while True:
            header = handle.read(8)
            if len(header) < 8:
                raise _truncated("PNG")
            length, chunk_type = struct.unpack(">I4s", header)
            crc = zlib.crc32(chunk_type)
            remaining = length
            while remaining:
                block = handle.read(min(remaining, 1 << 20))
                if not block:
                    raise _truncated("PNG")
                crc = zlib.crc32(block, crc)
                remaining -= len(block)
            stored = handle.read(4)
            if len(stored) < 4 or struct.unpack(">I", stored)[0] != crc:
                raise _truncated("PNG")
            seen_idat = seen_idat or chunk_type == b"IDAT"
            if chunk_type == b"IEND":
                break
    if not seen_idat:
        raise _truncated("PNG")


def _check_jpeg(path: Path, size: int) -> None:
    """A whole JPEG ends with EOI (FFD9), perhaps followed by a little padding."""
    with path.open("rb") as handle:
        handle.seek(max(0, size - 4096))
        tail = handle.read().rstrip(b"\x00\r\n ")
    if not tail.endswith(b"\xff\xd9"):
        raise _truncated("JPEG")


def _check_avi(head: bytes, size: int) -> None:
    declared = struct.unpack("<I", head[4:8])[0] + 8
    if declared > size:
        raise _truncated("AVI")


def _check_mp4(path: Path, size: int) -> None:
    """Top-level ISO-BMFF boxes must tile the file exactly and include moov and mdat."""
    found: set[bytes] = set()
    offset = 0
    with path.open("rb") as handle:
        while offset < size:
            handle.seek(offset)
            header = handle.read(16)
            if len(header) < 8:
                raise _truncated("MP4")
            box_size, box_type = struct.unpack(">I4s", header[:8])
            if box_size == 1:
                if len(header) < 16:
                    raise _truncated("MP4")
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:
                box_size = size - offset
            if box_size < 8 or offset + box_size > size:
                raise _truncated("MP4")
            found.add(box_type)
            offset += box_size
    if not {b"moov", b"mdat"} <= found:
        raise _truncated("MP4")


def _check_dicom(path: Path, size: int) -> None:
    """The header must parse and the pixel data element must be complete.

    The pixel data itself is never loaded: its element header is read where pydicom
    stops, and its declared length (or, when encapsulated, its closing delimiter) is
    checked against the file.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with path.open("rb") as handle, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(handle, stop_before_pixels=True)
            pixel_offset = handle.tell()
            element_header = handle.read(12)
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, struct.error) as exc:
        raise MediaError(
            "the DICOM file cannot be read (damaged or truncated)", code="truncated"
        ) from exc
    if element_header[:4] not in (b"\xe0\x7f\x10\x00", b"\xe0\x7f\x08\x00", b"\xe0\x7f\x09\x00"):
        if "Rows" in ds and pixel_offset >= size:
            raise _truncated("DICOM")
        raise MediaError("the DICOM file holds no image", code="unsupported")
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        bits = int(ds.BitsAllocated)
        syntax = ds.file_meta.TransferSyntaxUID
    except (AttributeError, TypeError, ValueError) as exc:
        raise MediaError(
            "the DICOM image attributes are missing or invalid", code="invalid"
        ) from exc
    if len(element_header) < 12:
        raise _truncated("DICOM")
    if syntax.is_implicit_VR:
        length = struct.unpack("<I", element_header[4:8])[0]
        value_offset = pixel_offset + 8
    else:
        length = struct.unpack("<I", element_header[8:12])[0]
        value_offset = pixel_offset + 12
    if length == 0xFFFFFFFF:
        # Encapsulated: the last 8 bytes of a whole file close the fragment sequence
        # (trailing padding after it is not allowed here).
        with path.open("rb") as handle:
            handle.seek(size - 8)
            if handle.read(8) != b"\xfe\xff\xdd\xe0\x00\x00\x00\x00":
                raise _truncated("DICOM")
        return
    if value_offset + length > size:
        raise _truncated("DICOM")
    if length < (rows * columns * frames * samples * bits + 7) // 8:
        raise _truncated("DICOM")


def _megabytes(size: int) -> str:
    return f"{size / 1024**2:.1f} MB"
