"""Factories for media test files: ultrasound-like frames, MP4/AVI, PNG/JPEG, DICOM.

Reusable by any test module (``from tests.media_factories import make_mp4``). Every
function writes into a path the caller gives (use pytest's ``tmp_path``) and is
deterministic for a given ``seed``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)

#: Identifying values written by :func:`make_dicom_cine` with ``with_phi=True``; a
#: de-identification test asserts none of them survives.
PHI = {
    "PatientName": "DOE^JANE^BABY",
    "PatientID": "MRN-4711-0815",
    "OtherPatientIDs": "ALT-99887766",
    "PatientBirthDate": "20240229",
    "PatientBirthTime": "031415",
    "PatientAddress": "12 Fontanelle Lane, Springfield",
    "PatientMotherBirthName": "MOTHERSMAIDEN",
    "InstitutionName": "St Elsewhere Childrens Hospital",
    "InstitutionAddress": "1 Hospital Road, Shelbyville",
    "InstitutionalDepartmentName": "Neonatal Intensive Care",
    "ReferringPhysicianName": "HOUSE^GREGORY",
    "PerformingPhysicianName": "QUINN^MICHAELA",
    "OperatorsName": "SONO^SAMANTHA",
    "PhysiciansOfRecord": "KILDARE^JAMES",
    "AccessionNumber": "ACC20240301X",
    "StudyID": "STUDY7731",
    "StudyDate": "20240301",
    "SeriesDate": "20240301",
    "AcquisitionDate": "20240301",
    "ContentDate": "20240301",
    "StudyTime": "101522",
    "SeriesTime": "101523",
    "AcquisitionTime": "101524",
    "ContentTime": "101525",
    "DeviceSerialNumber": "SN-LOGIQ-556677",
    "StationName": "NICU-US-STN-3",
    "StudyDescription": "CRANIAL US DOE BABY",
    "SeriesDescription": "CORONAL SWEEP BED 12",
}

#: Value of the private tag written with ``with_phi=True``.
PRIVATE_PHI = "PRIVATE-SECRET-BED-12"


@dataclass(frozen=True)
class FanGeometry:
    """Where :func:`make_fan_frame` draws the sector in a ``width``×``height`` frame."""

    width: int
    height: int

    @property
    def apex(self) -> tuple[int, int]:
        return (self.width // 2, round(-0.10 * self.height))

    @property
    def radius(self) -> int:
        return round(0.92 * self.height)

    @property
    def top(self) -> int:
        """Row of the flat top (the fontanelle footprint)."""
        return round(0.10 * self.height)

    @property
    def half_angle(self) -> float:
        return 35.0

    @property
    def left(self) -> int:
        """Leftmost column of the sector (its right edge mirrors it)."""
        return self.width // 2 - round(self.radius * np.sin(np.radians(self.half_angle)))

    def mask(self) -> np.ndarray:
        """Boolean mask of the sector."""
        mask = np.zeros((self.height, self.width), np.uint8)
        cv2.ellipse(
            mask,
            self.apex,
            (self.radius, self.radius),
            0,
            90 - self.half_angle,
            90 + self.half_angle,
            1,
            thickness=cv2.FILLED,
        )
        mask[: self.top] = 0
        return mask.astype(bool)


def make_fan_frame(
    width: int = 850,
    height: int = 648,
    *,
    overlays: bool = True,
    seed: int = 0,
    shift: int = 0,
) -> np.ndarray:
    """An RGB uint8 frame with a speckled ultrasound fan and, optionally, burned-in text.

    The fan has a flat top and a curved bottom and fills about 40 % of a 4:3 to 16:10
    frame (``width`` must be at least 1.25 × ``height`` so the overlays fit beside it);
    inside it, speckle with a dark
    fluid-filled ventricle (black pixels inside the sector). ``overlays`` adds what a
    real scanner burns in around the sector: date and operator (top left), "LOGIQ E9"
    near the fan's top corner, probe text (top right), a grey-scale bar at the left,
    a depth scale with ticks at the right, and a "RIGHT" side label. ``shift`` moves
    the speckle pattern (consecutive video frames).
    """
    if width < 1.25 * height:
        raise ValueError("make_fan_frame needs width >= 1.25 * height")
    rng = np.random.default_rng(seed)
    geometry = FanGeometry(width, height)
    mask = geometry.mask()
    # Speckle: smooth the noise along depth and across, then stretch into 20..220.
    noise: np.ndarray = rng.random((height, width + 64)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), sigmaX=3.0, sigmaY=1.5)
    noise = noise[:, shift % 64 : shift % 64 + width]
    noise = (noise - noise.min()) / max(float(noise.max() - noise.min()), 1e-6)
    tissue = (40 + 180 * noise).astype(np.uint8)
    gray = np.where(mask, tissue, 0).astype(np.uint8)
    # A black ventricle inside the sector: must not be cut out of the sector mask.
    cv2.ellipse(
        gray,
        (width // 2, round(0.45 * height)),
        (max(4, width // 20), max(3, height // 14)),
        0,
        0,
        360,
        0,
        thickness=cv2.FILLED,
    )
    frame = np.repeat(gray[:, :, None], 3, axis=2)
    if overlays:
        _draw_overlays(frame, geometry)
    return frame


def _draw_overlays(frame: np.ndarray, geometry: FanGeometry) -> None:
    width, height = geometry.width, geometry.height
    scale = height / 648
    font = cv2.FONT_HERSHEY_SIMPLEX
    white = (235, 235, 235)
    thickness = max(1, round(scale))

    def text(label: str, x: float, y: float, size: float = 0.5) -> None:
        cv2.putText(
            frame,
            label,
            (round(x), round(y)),
            font,
            size * scale,
            white,
            thickness,
            cv2.LINE_AA,
        )

    text("2024-03-01 10:15:22", 0.01 * width, 0.04 * height)
    text("OP: SONO", 0.01 * width, 0.075 * height)
    # Machine name at the fan's top-left corner, clear of the sector.
    mask = geometry.mask()
    top_row = np.flatnonzero(mask[geometry.top])
    left_corner = int(top_row[0]) if top_row.size else width // 3
    text("LOGIQ E9", left_corner - 0.16 * width, 0.075 * height)
    text("8C-RS 8.0MHz", 0.80 * width, 0.04 * height)
    text("NEO HEAD", 0.80 * width, 0.075 * height)
    text("RIGHT", 0.01 * width, 0.30 * height, 0.7)
    # Grey-scale bar at the left, clear of the sector.
    bar_x1 = geometry.left - round(0.04 * height)
    bar_x0 = bar_x1 - max(3, round(0.025 * height))
    bar_y0, bar_y1 = round(0.40 * height), round(0.75 * height)
    ramp = np.linspace(255, 20, bar_y1 - bar_y0).astype(np.uint8)
    frame[bar_y0:bar_y1, bar_x0:bar_x1] = ramp[:, None, None]
    # Depth scale with ticks and numbers at the right.
    scale_x = width - geometry.left + round(0.03 * height)
    cv2.line(frame, (scale_x, geometry.top), (scale_x, round(0.9 * height)), white, thickness)
    for depth, y in enumerate(np.linspace(geometry.top, 0.9 * height, 6)):
        cv2.line(
            frame, (scale_x, round(y)), (scale_x + round(0.015 * width), round(y)), white, thickness
        )
        text(str(depth * 2), scale_x + 0.02 * width, y + 5 * scale, 0.4)


def make_sweep_frames(
    count: int, width: int = 320, height: int = 256, *, overlays: bool = True, seed: int = 0
) -> list[np.ndarray]:
    """``count`` consecutive fan frames whose speckle drifts a little from frame to frame."""
    return [
        make_fan_frame(width, height, overlays=overlays, seed=seed, shift=index)
        for index in range(count)
    ]


def make_mp4(path: Path, frames: Sequence[np.ndarray], fps: float = 25.0) -> Path:
    """Write RGB frames as an H.264 MP4 (yuv420p; frame sizes must be even)."""
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=round(fps))
        stream.width = frames[0].shape[1]
        stream.height = frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(_rgb(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_avi(path: Path, frames: Sequence[np.ndarray], fps: float = 25.0) -> Path:
    """Write RGB frames as an MJPEG AVI with OpenCV."""
    height, width = frames[0].shape[:2]
    # OpenCV picks the container by extension; write under .avi, then take the caller's name.
    staging = path.with_name(path.name + ".staging.avi")
    writer = cv2.VideoWriter(str(staging), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(_rgb(frame), cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    if not staging.is_file():
        raise RuntimeError("OpenCV wrote no AVI file")
    staging.replace(path)
    return path


def make_png(path: Path, frame: np.ndarray, *, with_metadata: bool = True) -> Path:
    """Write a PNG; ``with_metadata`` adds tEXt chunks a rendition must not carry."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    if with_metadata:
        info.add_text("Author", "Dr Junior Reader")
        info.add_text("Software", "LOGIQ E9 R7")
        info.add_text("Creation Time", "2024-03-01 10:15:22")
    Image.fromarray(frame).save(path, format="PNG", pnginfo=info)
    return path


def make_jpeg(path: Path, frame: np.ndarray, *, quality: int = 92, with_exif: bool = True) -> Path:
    """Write a JPEG; ``with_exif`` adds EXIF (camera make, date) a rendition must not carry."""
    image = Image.fromarray(frame)
    exif = Image.Exif()
    if with_exif:
        exif[0x010F] = "GE Healthcare"  # Make
        exif[0x0110] = "LOGIQ E9"  # Model
        exif[0x0132] = "2024:03:01 10:15:22"  # DateTime
    image.save(path, format="JPEG", quality=quality, exif=exif.tobytes())
    return path


def make_dicom_cine(
    path: Path,
    frames: Sequence[np.ndarray],
    *,
    jpeg: bool = True,
    with_phi: bool = True,
    fps: float = 25.0,
    color: bool = True,
) -> Path:
    """Write an ultrasound multi-frame DICOM (one frame gives a single-frame file).

    ``jpeg`` encodes each frame with Pillow as JPEG baseline (transfer syntax
    1.2.840.10008.1.2.4.50, encapsulated pixel data); otherwise native little endian.
    ``color`` keeps RGB (YBR_FULL_422 when JPEG), else MONOCHROME2. ``with_phi`` fills
    the identifying attributes in :data:`PHI` and a private tag with :data:`PRIVATE_PHI`.
    """
    arrays = [_rgb(frame) for frame in frames]
    height, width = arrays[0].shape[:2]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = JPEGBaseline8Bit if jpeg else ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.Modality = "US"
    ds.Manufacturer = "GE Healthcare"
    ds.ManufacturerModelName = "LOGIQ E9"
    ds.Rows, ds.Columns = height, width
    ds.NumberOfFrames = len(arrays)
    ds.CineRate = round(fps)
    ds.FrameTime = f"{1000.0 / fps:.4f}"
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if color:
        ds.SamplesPerPixel = 3
        ds.PlanarConfiguration = 0
        ds.PhotometricInterpretation = "YBR_FULL_422" if jpeg else "RGB"
        pixel_arrays = arrays
    else:
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        pixel_arrays = [cv2.cvtColor(a, cv2.COLOR_RGB2GRAY) for a in arrays]
    if with_phi:
        for keyword, value in PHI.items():
            setattr(ds, keyword, value)
        block = ds.private_block(0x0009, "ACME SCANNER", create=True)
        block.add_new(0x01, "LO", PRIVATE_PHI)
    if jpeg:
        fragments = []
        for array in pixel_arrays:
            buffer = io.BytesIO()
            Image.fromarray(array).save(buffer, format="JPEG", quality=90, subsampling=1)
            fragments.append(buffer.getvalue())
        ds.PixelData = encapsulate(fragments)
        ds["PixelData"].VR = "OB"
        ds.LossyImageCompression = "01"
    else:
        ds.PixelData = np.stack(pixel_arrays).tobytes()
    if len(arrays) == 1:
        del ds.NumberOfFrames
    ds.save_as(path, enforce_file_format=True)
    return path


def truncate(path: Path, keep: float = 0.5) -> Path:
    """Cut ``path`` to a fraction of its bytes in place (a damaged upload)."""
    data = path.read_bytes()
    path.write_bytes(data[: max(1, int(len(data) * keep))])
    return path


def _rgb(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame, dtype=np.uint8)
    if frame.ndim == 2:
        return np.repeat(frame[:, :, None], 3, axis=2)
    return np.ascontiguousarray(frame[:, :, :3])
