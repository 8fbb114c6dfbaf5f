"""Streaming frame reader for sweep videos: MP4/AVI (PyAV) and DICOM cine (pydicom).

Frames are decoded one at a time so that a long, large sweep never sits in memory whole.
Every frame comes out as an RGB ``uint8`` array of shape H×W×3, whatever the source
(grey DICOM, 16-bit DICOM, YBR JPEG-baseline DICOM, H.264, MJPEG ...).

The frame count a file declares is checked against what is actually decoded, so a
truncated file is reported instead of silently yielding half a sweep.

Example
-------
>>> with open_video("sweep.mp4") as video:  # doctest: +SKIP
...     for frame in video:
...         ...
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np

VideoFormat = Literal["mp4", "avi", "dicom"]

#: A decoded count may differ from the declared one by this much (container rounding).
FRAME_COUNT_TOLERANCE = 1


class VideoError(ValueError):
    """The file is not a readable video: unknown type, empty, truncated or undecodable.

    ``str(error)`` names the file; :attr:`reason` is the same message without the file
    name, for callers that show it next to the name the user uploaded.
    """

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


def _error(path: Path, reason: str) -> VideoError:
    return VideoError(f"{path.name}: {reason}", reason=reason)


def sniff_video_format(path: str | Path) -> VideoFormat:
    """Tell MP4, AVI and DICOM apart by their magic bytes, never by the file name."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(132)
    except OSError as exc:
        raise _error(path, f"cannot be read: {exc.strerror or exc}") from exc
    if not head:
        raise _error(path, "the file is empty")
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide"):
        return "mp4"
    raise _error(path, "the file is not an MP4, AVI or DICOM file")


class VideoStream:
    """An opened video: its declared geometry and timing, and its frames on iteration.

    Use through :func:`open_video`. Each iteration decodes the file from the start;
    once it ends, the number of decoded frames is compared with :attr:`frame_count`.
    """

    fps: float
    frame_count: int
    width: int
    height: int
    format: VideoFormat
    #: (x, y) millimetres per pixel where the file says (DICOM ultrasound regions or Pixel
    #: Spacing); None otherwise.
    pixel_spacing_mm: tuple[float, float] | None = None

    def __init__(
        self, path: Path, video_format: VideoFormat, *, require_cine: bool = False
    ) -> None:
        self.path = path
        self.format = video_format
        self.decoded_count: int | None = None
        if video_format == "dicom":
            self._probe_dicom()
        else:
            self._probe_av()
        if require_cine and 0 < self.frame_count < MIN_CINE_FRAMES:
            raise _error(
                path,
                f"a single frame (a still image) where a cine sweep of at least "
                f"{MIN_CINE_FRAMES} frames is required",
            )

    # -- context manager -------------------------------------------------------------
    def __enter__(self) -> VideoStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release resources; decoders are opened per iteration, so nothing is held."""

    def __repr__(self) -> str:
        return (
            f"VideoStream({self.path.name!r}, format={self.format!r}, "
            f"{self.width}x{self.height}, frames={self.frame_count}, fps={self.fps:.3f})"
        )

    # -- iteration ---------------------------------------------------------------------
    def __iter__(self) -> Iterator[np.ndarray]:
        return self._checked(self._decode_dicom() if self.format == "dicom" else self._decode_av())

    def _checked(self, frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        count = 0
        for frame in frames:
            count += 1
            yield frame
        self.decoded_count = count
        if count == 0:
            raise _error(self.path, "no frame could be decoded")
        if self.frame_count > 0 and abs(count - self.frame_count) > FRAME_COUNT_TOLERANCE:
            raise _error(
                self.path,
                f"the file declares {self.frame_count} frames but {count} were decoded "
                "(truncated or damaged file)",
            )

    # -- PyAV (MP4, AVI) ---------------------------------------------------------------
    def _open_container(self) -> Any:
        import av

        try:
            container = av.open(str(self.path), mode="r")
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise _error(self.path, f"the {self.format} file cannot be opened ({exc})") from exc
        if not container.streams.video:
            container.close()
            raise _error(self.path, "the file holds no video stream")
        return container

    def _probe_av(self) -> None:
        container = self._open_container()
        try:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            self.fps = float(rate) if rate else 0.0
            self.width = int(stream.codec_context.width)
            self.height = int(stream.codec_context.height)
            declared = int(stream.frames or 0)
            if declared <= 0 and self.fps > 0:
                # Some muxers omit the count; the duration gives it to within a frame.
                if stream.duration is not None and stream.time_base is not None:
                    declared = round(float(stream.duration * stream.time_base) * self.fps)
                elif container.duration:
                    declared = round(container.duration / 1_000_000 * self.fps)
            self.frame_count = declared
        finally:
            container.close()
        if self.width <= 0 or self.height <= 0:
            raise _error(self.path, "the video stream has no frame size")

    def _decode_av(self) -> Generator[np.ndarray, None, None]:
        import av

        container = self._open_container()
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            try:
                for frame in container.decode(stream):
                    yield frame.to_ndarray(format="rgb24")
            except (av.FFmpegError, OSError) as exc:
                raise _error(self.path, f"decoding failed ({exc})") from exc
        finally:
            container.close()

    # -- pydicom (DICOM cine) ----------------------------------------------------------
    def _probe_dicom(self) -> None:
        ds = read_dicom_header(self.path)
        self.height = int(ds.Rows)
        self.width = int(ds.Columns)
        self.frame_count = int(ds.get("NumberOfFrames", 1) or 1)
        self.fps = dicom_frame_rate(ds)
        self.pixel_spacing_mm = dicom_pixel_spacing(ds)

    def _decode_dicom(self) -> Iterator[np.ndarray]:
        yield from _iter_dicom(self.path, indices=None)


#: The fewest frames a sweep (cine) may have where one is required.
MIN_CINE_FRAMES = 2
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
#: Physical Units X/Y Direction code of centimetres in an ultrasound region (PS3.3 C.8.5.5.1.15).
_UNITS_CM = 3


def read_dicom_header(path: Path) -> Any:
    """The DICOM header, its pixel data element present but not loaded.

    Why ``defer_size``: ``stop_before_pixels`` cannot tell a file without pixel data (a
    structured report, a DICOMDIR, a header-only export) from a cine; deferred reading
    keeps the element's presence without holding its bytes. Raises :class:`VideoError` for
    an unreadable file or one without an image.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings():
            # a cut-off file warns here; decoding reports it as truncated
            warnings.simplefilter("ignore", UserWarning)
            ds = pydicom.dcmread(path, defer_size="64 KB")
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError) as exc:
        raise _error(path, f"not a readable DICOM file ({exc})") from exc
    if not any(keyword in ds for keyword in _PIXEL_KEYWORDS):
        kind = str(ds.get("Modality", "") or ds.get("SOPClassUID", "") or "no image")
        raise _error(path, f"a DICOM file without pixel data ({kind}): not a sweep")
    if "Rows" not in ds or "Columns" not in ds:
        raise _error(path, "a DICOM file without an image (no Rows/Columns)")
    return ds


def dicom_pixel_spacing(ds: Any) -> tuple[float, float] | None:
    """(x, y) millimetres per pixel: the ultrasound region's Physical Delta X/Y, else Pixel
    Spacing; None when neither is given.

    Ultrasound stores calibration per region (Sequence of Ultrasound Regions), in
    centimetres; the largest region in centimetres is the B-mode image.
    """
    regions = []
    for region in ds.get("SequenceOfUltrasoundRegions", None) or []:
        units = (region.get("PhysicalUnitsXDirection"), region.get("PhysicalUnitsYDirection"))
        dx, dy = region.get("PhysicalDeltaX"), region.get("PhysicalDeltaY")
        if units != (_UNITS_CM, _UNITS_CM) or not dx or not dy:
            continue
        x0, y0 = (
            int(region.get("RegionLocationMinX0", 0)),
            int(region.get("RegionLocationMinY0", 0)),
        )
        x1, y1 = (
            int(region.get("RegionLocationMaxX1", 0)),
            int(region.get("RegionLocationMaxY1", 0)),
        )
        regions.append(((x1 - x0) * (y1 - y0), abs(float(dx)) * 10.0, abs(float(dy)) * 10.0))
    if regions:
        _, dx_mm, dy_mm = max(regions)
        return dx_mm, dy_mm
    spacing = ds.get("PixelSpacing")  # row spacing (y), column spacing (x), in mm
    if spacing and len(spacing) == 2 and float(spacing[0]) > 0 and float(spacing[1]) > 0:
        return float(spacing[1]), float(spacing[0])
    return None


def dicom_frame_rate(ds: Any) -> float:
    """Frame rate a DICOM dataset declares (Cine Rate, Frame Time ...); 0.0 if none."""
    for keyword in ("CineRate", "RecommendedDisplayFrameRate"):
        value = ds.get(keyword)
        if value not in (None, "") and float(value) > 0:
            return float(value)
    frame_time = ds.get("FrameTime")  # milliseconds per frame
    if frame_time not in (None, "") and float(frame_time) > 0:
        return 1000.0 / float(frame_time)
    vector = ds.get("FrameTimeVector")
    if vector:
        steps = [float(v) for v in list(vector)[1:] if float(v) > 0]
        if steps:
            return 1000.0 / (sum(steps) / len(steps))
    return 0.0


def dicom_frame_to_rgb(pixels: np.ndarray, ds: Any) -> np.ndarray:
    """Turn one decoded DICOM frame into RGB uint8 (grey replicated, >8 bits rescaled)."""
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    frame = np.asarray(pixels)
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        frame = apply_color_lut(frame, ds)
    if frame.dtype != np.uint8:
        bits = int(ds.get("BitsStored", 8) or 8)
        if frame.dtype.kind == "f" or bits > 8 or frame.dtype.kind == "i":
            frame = frame.astype(np.float64)
            low = float(frame.min())
            high = float(frame.max())
            if frame.dtype.kind != "f" and bits <= 16 and low >= 0:
                low, high = 0.0, float(2**bits - 1)
            scale = 255.0 / (high - low) if high > low else 0.0
            frame = np.clip((frame - low) * scale + 0.5, 0, 255)
        frame = frame.astype(np.uint8)
    if frame.ndim == 2:
        if photometric == "MONOCHROME1":
            frame = 255 - frame
        frame = np.repeat(frame[:, :, None], 3, axis=2)
    elif frame.ndim == 3 and frame.shape[2] == 1:
        frame = np.repeat(frame, 3, axis=2)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise VideoError(f"unsupported DICOM frame shape {frame.shape}")
    return np.ascontiguousarray(frame)


def _iter_dicom(path: Path, indices: Iterable[int] | None) -> Iterator[np.ndarray]:
    import pydicom
    from pydicom.pixels import iter_pixels

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as exc:  # pydicom raises many types on damaged files
        raise _error(path, f"not a readable DICOM file ({exc})") from exc
    try:
        # as_rgb converts YBR (JPEG-baseline) to RGB; frames are read from the file one
        # by one instead of building the whole pixel array.
        if _is_native_ybr_422(ds):
            frames = _iter_native_ybr_422(path, indices)
        else:
            frames = iter_pixels(path, indices=list(indices) if indices is not None else None)
        for pixels in frames:
            yield dicom_frame_to_rgb(pixels, ds)
    except VideoError:
        raise
    except Exception as exc:
        raise _error(path, f"the DICOM pixel data cannot be decoded ({exc})") from exc


def _is_native_ybr_422(ds: Any) -> bool:
    """Uncompressed 8-bit YBR_FULL_422, which pydicom 3.0's frame iterator mis-sizes."""
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    return (
        str(ds.get("PhotometricInterpretation", "")) == "YBR_FULL_422"
        and syntax is not None
        and not syntax.is_compressed
        and syntax.is_little_endian
        and not syntax.is_deflated
        and int(ds.get("BitsAllocated", 8)) == 8
    )


def _iter_native_ybr_422(path: Path, indices: Iterable[int] | None) -> Iterator[np.ndarray]:
    """Frames of an uncompressed YBR_FULL_422 cine, read one by one, as RGB.

    Each horizontal pixel pair is stored as Y1 Y2 Cb Cr (PS3.5 8.2.1): the chroma is
    repeated over the pair and converted with pydicom's ``convert_color_space``.
    """
    import pydicom
    from pydicom.dataelem import RawDataElement
    from pydicom.pixels import convert_color_space

    ds = pydicom.dcmread(path, defer_size="64 KB")
    rows, cols = int(ds.Rows), int(ds.Columns)
    if cols % 2:
        raise _error(path, "YBR_FULL_422 needs an even number of columns")
    frame_bytes = rows * cols * 2
    count = int(ds.get("NumberOfFrames", 1) or 1)
    element = ds.get_item("PixelData")
    if not isinstance(element, RawDataElement) or element.value_tell is None:
        raise _error(path, "the YBR_FULL_422 pixel data cannot be located in the file")
    offset = element.value_tell
    with path.open("rb") as handle:
        for index in range(count) if indices is None else indices:
            handle.seek(offset + index * frame_bytes)
            data = handle.read(frame_bytes)
            if len(data) < frame_bytes:
                raise _error(path, f"frame {index} is cut short (truncated or damaged file)")
            pairs = np.frombuffer(data, np.uint8).reshape(rows, cols // 2, 4)
            ybr = np.empty((rows, cols, 3), np.uint8)
            ybr[..., 0] = pairs[..., :2].reshape(rows, cols)
            ybr[..., 1] = np.repeat(pairs[..., 2], 2, axis=1)
            ybr[..., 2] = np.repeat(pairs[..., 3], 2, axis=1)
            yield convert_color_space(ybr, "YBR_FULL", "RGB")


def open_video(path: str | Path, *, require_cine: bool = False) -> VideoStream:
    """Open an MP4, AVI or DICOM (cine or single-frame) file for streaming.

    ``require_cine``: refuse a file of a single frame (a still image where a sweep is
    needed) at once, instead of after a pipeline finds no views in it.

    Raises
    ------
    VideoError
        If the file is missing, empty, of another type, without pixel data, cannot be
        opened, or (``require_cine``) holds one frame.
    """
    path = Path(path)
    if not path.is_file():
        raise _error(path, "the file does not exist")
    return VideoStream(path, sniff_video_format(path), require_cine=require_cine)


def read_frames(path: str | Path, indices: Iterable[int]) -> dict[int, np.ndarray]:
    """Decode only the frames at ``indices`` (RGB uint8), streaming through the file.

    Raises
    ------
    VideoError
        If an index lies outside the declared frames, or the file cannot be decoded.
    """
    wanted = sorted({int(i) for i in indices})
    if not wanted:
        return {}
    with open_video(path) as video:
        total = video.frame_count
        if wanted[0] < 0 or (total > 0 and wanted[-1] >= total):
            bad = wanted[0] if wanted[0] < 0 else wanted[-1]
            raise _error(video.path, f"frame {bad} is outside 0..{total - 1}")
        if video.format == "dicom":
            return dict(zip(wanted, _iter_dicom(video.path, wanted), strict=True))
        found: dict[int, np.ndarray] = {}
        last = wanted[-1]
        wanted_set = set(wanted)
        decoder = video._decode_av()
        try:
            for index, frame in enumerate(decoder):
                if index in wanted_set:
                    found[index] = frame
                if index >= last:
                    break
        finally:
            decoder.close()
    missing = wanted_set - found.keys()
    if missing:
        raise _error(
            Path(path),
            f"frame {min(missing)} could not be decoded (the file declares {total} frames)",
        )
    return found


def duration_seconds(video: VideoStream) -> float:
    """Declared duration of a video in seconds (NaN when the frame rate is unknown)."""
    return video.frame_count / video.fps if video.fps > 0 else math.nan


@dataclass(frozen=True)
class DicomCine:
    """One cine of a DICOM folder: its file, size, timing and the orientation it names."""

    path: Path
    frame_count: int
    fps: float
    orientation: str | None  # coronal, sagittal, sagittal_left, sagittal_right, or None
    description: str


@dataclass
class DicomFolder:
    """The cines found in a folder, in acquisition order, and the files left out (why)."""

    cines: list[DicomCine]
    skipped: dict[Path, str] = field(default_factory=dict)

    @property
    def orientations(self) -> list[str | None]:
        """The orientation each cine names (None: to be decided from its frames)."""
        return [c.orientation for c in self.cines]

    def videos(self) -> tuple[list[Path], list[str | None]]:
        """(paths, declared orientations), the form ``inference.ncls.sweep_args.videos_of``
        gives ``extract`` and ``run``, so ``--dicom-dir DIR`` can stand for the video list."""
        return [c.path for c in self.cines], self.orientations


def dicom_orientation(text: str) -> str | None:
    """The sweep orientation a series description names (``COR``, ``SAG L`` ...), if any.

    Why guess from text at all: scanners write the preset or the sonographer's label
    ("NEO HEAD COR", "SAG RT") into Series Description; it is the only place a DICOM says
    which sweep it is. Anything unclear gives None, left to the frames.
    """
    words = re.findall(r"[A-Z]+", text.upper())
    coronal = any(w.startswith("COR") for w in words)
    sagittal = any(w.startswith(("SAG", "PARASAG")) for w in words)
    if coronal == sagittal:
        return None
    if coronal:
        return "coronal"
    left = any(w in ("L", "LT", "LEFT") for w in words)
    right = any(w in ("R", "RT", "RIGHT") for w in words)
    if left != right:
        return "sagittal_left" if left else "sagittal_right"
    return "sagittal"


def _description(ds: Any) -> str:
    parts = (ds.get(k) for k in ("SeriesDescription", "ProtocolName", "ImageComments"))
    return " / ".join(str(p) for p in parts if p)


def _acquisition_key(ds: Any, path: Path) -> tuple[int, str, int, str]:
    def number(keyword: str) -> int:
        try:
            return int(ds.get(keyword) or 0)
        except (TypeError, ValueError):
            return 0

    time = str(
        ds.get("AcquisitionDateTime") or ds.get("ContentTime") or ds.get("AcquisitionTime") or ""
    )
    return number("SeriesNumber"), time, number("InstanceNumber"), path.name


def dicom_cines(directory: str | Path) -> DicomFolder:
    """The DICOM cines of a folder (``--dicom-dir``), searched recursively, in acquisition
    order (series, time, instance number).

    Files that are not DICOM, hold no pixel data or a single frame are listed in
    ``skipped`` with the reason. Raises :class:`VideoError` when the folder is missing or
    holds no cine, naming what was left out.
    """
    root = Path(directory)
    if not root.is_dir():
        raise _error(root, "the DICOM folder does not exist")
    found: list[tuple[tuple[int, str, int, str], DicomCine]] = []
    skipped: dict[Path, str] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            if sniff_video_format(path) != "dicom":
                raise _error(path, "not a DICOM file")
            ds = read_dicom_header(path)
        except VideoError as exc:
            skipped[path] = exc.reason
            continue
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        if frames < MIN_CINE_FRAMES:
            skipped[path] = "a single frame (a still image), not a cine"
            continue
        text = _description(ds)
        cine = DicomCine(path, frames, dicom_frame_rate(ds), dicom_orientation(text), text)
        found.append((_acquisition_key(ds, path), cine))
    if not found:
        why = (
            "; ".join(f"{p.name}: {r}" for p, r in list(skipped.items())[:5])
            or "the folder is empty"
        )
        raise _error(root, f"no DICOM cine in the folder ({why})")
    found.sort(key=lambda item: item[0])
    return DicomFolder([cine for _, cine in found], skipped)
