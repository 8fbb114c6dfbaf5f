"""Canonical renditions: the one code path from any frame to what a reader sees.

Blinding (shared/DESIGN.md) requires that nothing in a reader-facing file tells where the
material came from. Every image therefore goes through :func:`render_view` and every sweep
through :func:`render_video`, whatever its origin (a PNG or JPEG upload, a DICOM frame, a
video frame picked by a person or by the AI):

1. the ultrasound sector is found with :func:`core.roi.find_sector` and every
   pixel outside it (burned-in date, machine name, side label, grey bar, depth scale) is
   set to 0;
2. the frame becomes grey (8 bit) and the sector's bounding box is scaled to fit a fixed
   :data:`CANVAS_WIDTH` × :data:`CANVAS_HEIGHT` canvas, centred on black (letterbox);
3. images are encoded as 8-bit greyscale PNG written here byte by byte: IHDR, one IDAT
   with *stored* (uncompressed) deflate blocks, IEND, nothing else. No EXIF, text, ICC,
   gamma, physical size or time chunk can exist, the same pixels always give the same
   bytes, and every rendition has exactly the same file size (:data:`VIEW_BYTES`), so the
   size of a file cannot hint at its source either;
4. videos are H.264 (High profile, yuv420p) MP4 with fixed encoder settings, the frame
   rate the study sets, ``+faststart`` and bit-exact muxing (no encoder version or
   creation time tags), checked by decoding the result back.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import zlib
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np

from core.roi import SectorROI, find_sector, to_gray
from trials.media.errors import MediaError

#: The fixed size of every rendition, images and videos alike (even, for yuv420p).
CANVAS_WIDTH = 640
CANVAS_HEIGHT = 512
VIEW_CONTENT_TYPE = "image/png"
VIDEO_CONTENT_TYPE = "video/mp4"

#: Fixed H.264 encoder settings: the same for every sweep of every study.
VIDEO_CODEC = "libx264"
VIDEO_OPTIONS: dict[str, str] = {
    "preset": "veryfast",
    "crf": "20",
    "profile": "high",
    "tune": "stillimage",
    "threads": "2",  # fixed so the bytes do not depend on the machine's core count
}
#: How many frames, evenly spread, make the max-projection that locates a video's sector.
PROJECTION_SAMPLES = 32
#: A sector smaller than this (pixels, either side) is not an ultrasound image.
MIN_SECTOR_SIDE = 32

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_STORED_BLOCK = 65535


@dataclass(frozen=True)
class RenditionCrop:
    """Where a rendition's pixels came from: the sector box in the source frame and its
    placement on the canvas. Internal geometry (maps boxes back); never shown to readers.
    """

    source_width: int
    source_height: int
    x0: int
    y0: int
    x1: int
    y1: int
    scale: float
    offset_x: int
    offset_y: int
    canvas_width: int = CANVAS_WIDTH
    canvas_height: int = CANVAS_HEIGHT

    def to_canvas(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map source-frame coordinates to canvas coordinates."""
        return (
            (np.asarray(x, float) - self.x0) * self.scale + self.offset_x,
            (np.asarray(y, float) - self.y0) * self.scale + self.offset_y,
        )

    def to_source(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map canvas coordinates back to the source frame."""
        return (
            (np.asarray(x, float) - self.offset_x) / self.scale + self.x0,
            (np.asarray(y, float) - self.offset_y) / self.scale + self.y0,
        )

    def spacing_on_canvas(
        self, spacing_mm: tuple[float, float] | None
    ) -> tuple[float, float] | None:
        """Millimetres per canvas pixel (x, y) from the source's (x, y); None stays None."""
        if spacing_mm is None or self.scale <= 0:
            return None
        return spacing_mm[0] / self.scale, spacing_mm[1] / self.scale

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, for storing beside the rendition."""
        return asdict(self)


@dataclass(frozen=True)
class Rendition:
    """A canonical reader-facing image: PNG bytes and what describes them."""

    data: bytes
    content_type: str
    width: int
    height: int
    sha256: str
    crop: RenditionCrop


@dataclass(frozen=True)
class VideoRenditionInfo:
    """A canonical sweep video written by :func:`render_video`."""

    path: Path
    content_type: str
    width: int
    height: int
    frame_count: int
    fps: float
    sha256: str
    size_bytes: int
    crop: RenditionCrop


#: Byte length of every image rendition (stored deflate makes it independent of content).
VIEW_BYTES = (
    len(_PNG_SIGNATURE)
    + (12 + 13)  # IHDR
    + 12
    + 2
    + 4
    + (CANVAS_WIDTH + 1) * CANVAS_HEIGHT
    + 5 * -(-((CANVAS_WIDTH + 1) * CANVAS_HEIGHT) // _STORED_BLOCK)  # IDAT
    + 12  # IEND
)


def render_view(frame: np.ndarray) -> Rendition:
    """Turn one frame (H×W grey or H×W×3 RGB uint8) into its canonical PNG rendition.

    The sector is located in this frame itself, so the same frame gives the same bytes
    whichever path brought it here.

    Raises
    ------
    MediaError
        If the frame is not an 8-bit image or holds no ultrasound sector.
    """
    gray = _gray(frame)
    roi = _sector(gray)
    placement = _Placement(roi, gray.shape[1], gray.shape[0])
    canvas = placement.render(gray)
    data = encode_png_gray(canvas)
    return Rendition(
        data=data,
        content_type=VIEW_CONTENT_TYPE,
        width=CANVAS_WIDTH,
        height=CANVAS_HEIGHT,
        sha256=hashlib.sha256(data).hexdigest(),
        crop=placement.crop,
    )


def render_video(path: str | Path, out_path: str | Path, fps: float) -> VideoRenditionInfo:
    """Write the canonical rendition of the sweep video ``path`` to ``out_path``.

    The sector is found once, on the maximum projection of up to
    :data:`PROJECTION_SAMPLES` evenly spread frames, and every frame goes through the
    same crop and letterbox. Every source frame becomes one output frame, played at
    ``fps`` (the study's cine frame rate) whatever the source's own rate. The result is
    decoded back before it is kept; on any failure nothing is left at ``out_path``.

    Raises
    ------
    MediaError
        If the source does not decode, holds no sector, or the written file does not play.
    """
    from core.video import VideoError, open_video

    if not fps or fps <= 0 or fps > 120:
        raise MediaError(f"the rendition frame rate must be in (0, 120], got {fps}", code="invalid")
    source, out_path = Path(path), Path(out_path)
    try:
        with open_video(source) as video:
            step = max(1, video.frame_count // PROJECTION_SAMPLES)
            projection: np.ndarray | None = None
            for index, frame in enumerate(video):
                if index % step == 0:
                    gray = _gray(frame)
                    projection = gray if projection is None else np.maximum(projection, gray)
            if projection is None:  # pragma: no cover - open_video raises on no frames
                raise MediaError("the video holds no frame", code="undecodable")
            roi = _sector(projection)
            placement = _Placement(roi, projection.shape[1], projection.shape[0])
            written = _encode_video(video, placement, out_path, fps)
    except VideoError as exc:
        raise MediaError(f"the video cannot be decoded: {exc.reason}", code="undecodable") from exc
    try:
        _check_playable(out_path, written)
    except MediaError:
        out_path.unlink(missing_ok=True)
        raise
    data_hash = hashlib.sha256()
    with out_path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            data_hash.update(block)
    return VideoRenditionInfo(
        path=out_path,
        content_type=VIDEO_CONTENT_TYPE,
        width=CANVAS_WIDTH,
        height=CANVAS_HEIGHT,
        frame_count=written,
        fps=float(fps),
        sha256=data_hash.hexdigest(),
        size_bytes=out_path.stat().st_size,
        crop=placement.crop,
    )


def encode_png_gray(canvas: np.ndarray) -> bytes:
    """Encode an 8-bit grey image as a minimal PNG (IHDR, stored IDAT, IEND)."""
    if canvas.dtype != np.uint8 or canvas.ndim != 2:
        raise ValueError(f"expected a 2-D uint8 image, got {canvas.dtype} {canvas.shape}")
    height, width = canvas.shape
    scanlines = np.zeros((height, width + 1), np.uint8)  # filter byte 0 (None) per row
    scanlines[:, 1:] = canvas
    raw = scanlines.tobytes()
    # zlib stream built by hand from stored blocks: its length depends only on the
    # image size, and no zlib version can change the bytes.
    blocks = [b"\x78\x01"]
    for start in range(0, len(raw), _STORED_BLOCK):
        block = raw[start : start + _STORED_BLOCK]
        final = 1 if start + _STORED_BLOCK >= len(raw) else 0
        blocks.append(struct.pack("<BHH", final, len(block), 0xFFFF ^ len(block)))
        blocks.append(block)
    blocks.append(struct.pack(">I", zlib.adler32(raw)))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        _PNG_SIGNATURE
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(blocks))
        + _png_chunk(b"IEND", b"")
    )


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def _gray(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        raise MediaError(f"a frame must be 8-bit, got {frame.dtype}", code="invalid")
    try:
        return np.ascontiguousarray(to_gray(frame))
    except ValueError as exc:
        raise MediaError(str(exc), code="invalid") from exc


def _sector(gray: np.ndarray) -> SectorROI:
    try:
        roi = find_sector(gray)
    except ValueError as exc:
        raise MediaError("no ultrasound sector was found in the image", code="no_sector") from exc
    if min(roi.width, roi.height) < MIN_SECTOR_SIDE:
        raise MediaError("no ultrasound sector was found in the image", code="no_sector")
    return roi


class _Placement:
    """The crop-and-letterbox of one sector onto the canvas, reusable across frames."""

    def __init__(self, roi: SectorROI, source_width: int, source_height: int) -> None:
        self.roi = roi
        scale = min(CANVAS_WIDTH / roi.width, CANVAS_HEIGHT / roi.height)
        self.size = (
            min(CANVAS_WIDTH, max(1, round(roi.width * scale))),
            min(CANVAS_HEIGHT, max(1, round(roi.height * scale))),
        )
        self.offset = ((CANVAS_WIDTH - self.size[0]) // 2, (CANVAS_HEIGHT - self.size[1]) // 2)
        # Shrinking averages (no aliasing of speckle); enlarging interpolates linearly.
        self.interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        sector_mask = roi.mask[roi.y0 : roi.y1, roi.x0 : roi.x1].astype(np.float32)
        self.mask = cv2.resize(sector_mask, self.size, interpolation=self.interpolation) >= 0.5
        self.crop = RenditionCrop(
            source_width=source_width,
            source_height=source_height,
            x0=roi.x0,
            y0=roi.y0,
            x1=roi.x1,
            y1=roi.y1,
            scale=float(scale),
            offset_x=self.offset[0],
            offset_y=self.offset[1],
        )

    def render(self, gray: np.ndarray) -> np.ndarray:
        """The canvas for one grey frame of the source's size."""
        roi = self.roi
        if gray.shape != roi.mask.shape:
            raise MediaError(
                f"frame size {gray.shape[1]}×{gray.shape[0]} differs from the video's "
                f"{roi.mask.shape[1]}×{roi.mask.shape[0]}",
                code="undecodable",
            )
        sector = np.where(roi.mask, gray, 0)[roi.y0 : roi.y1, roi.x0 : roi.x1]
        resized = cv2.resize(sector, self.size, interpolation=self.interpolation)
        canvas = np.zeros((CANVAS_HEIGHT, CANVAS_WIDTH), np.uint8)
        x, y = self.offset
        canvas[y : y + self.size[1], x : x + self.size[0]] = np.where(self.mask, resized, 0)
        return canvas


def _encode_video(frames: Any, placement: _Placement, out_path: Path, fps: float) -> int:
    """Encode every frame of ``frames`` through ``placement``; return how many were written."""
    import av

    rate = Fraction(fps).limit_denominator(1001)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging_name = tempfile.mkstemp(suffix=".mp4", dir=out_path.parent)
    os.close(handle)
    staging = Path(staging_name)
    written = 0
    try:
        with av.open(
            str(staging),
            mode="w",
            format="mp4",
            options={"movflags": "+faststart", "fflags": "+bitexact"},
        ) as container:
            stream = cast(
                "av.video.stream.VideoStream", container.add_stream(VIDEO_CODEC, rate=rate)
            )
            stream.width, stream.height = CANVAS_WIDTH, CANVAS_HEIGHT
            stream.pix_fmt = "yuv420p"
            stream.options = {**VIDEO_OPTIONS, "g": str(max(1, round(fps)))}
            stream.codec_context.flags |= av.codec.context.Flags.bitexact
            for frame in frames:
                canvas = placement.render(_gray(frame))
                video_frame = av.VideoFrame.from_ndarray(canvas, format="gray").reformat(
                    format="yuv420p"
                )
                video_frame.pts = written
                video_frame.time_base = 1 / rate
                for packet in stream.encode(video_frame):
                    container.mux(packet)
                written += 1
            for packet in stream.encode():
                container.mux(packet)
        staging.replace(out_path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return written


def _check_playable(path: Path, expected_frames: int) -> None:
    """Decode the written rendition back: it must hold every frame at the canvas size."""
    from core.video import VideoError, open_video

    try:
        with open_video(path) as video:
            decoded = 0
            for frame in video:
                if frame.shape[:2] != (CANVAS_HEIGHT, CANVAS_WIDTH):
                    raise MediaError("the rendition has the wrong frame size", code="undecodable")
                decoded += 1
    except VideoError as exc:
        raise MediaError(f"the rendition does not play: {exc.reason}", code="undecodable") from exc
    if decoded != expected_frames:
        raise MediaError(
            f"the rendition holds {decoded} frames, {expected_frames} were written",
            code="undecodable",
        )
