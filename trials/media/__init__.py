"""The media layer of the trials app: pure (no Django), called with file paths and arrays.

- :func:`detect_kind` / :func:`probe`: what an upload is (by its bytes) and whether it
  decodes; every refusal is a :class:`MediaError` with a user-facing message.
- :func:`deidentify_dicom`: PS3.15 Basic Application Level Confidentiality Profile.
- :func:`load_image` / :func:`load_frame`: one frame of any accepted file as RGB uint8.
- :func:`render_view` / :func:`render_video`: the canonical reader-facing renditions.
"""

from trials.media.dicom import deidentify_dicom, dicom_pixel_spacing_of
from trials.media.errors import MediaError
from trials.media.frames import load_frame, load_image
from trials.media.kinds import DEFAULT_MAX_BYTES, MediaInfo, MediaKind, detect_kind, probe
from trials.media.rendition import (
    CANVAS_HEIGHT,
    CANVAS_WIDTH,
    VIDEO_CONTENT_TYPE,
    VIEW_BYTES,
    VIEW_CONTENT_TYPE,
    Rendition,
    RenditionCrop,
    VideoRenditionInfo,
    encode_png_gray,
    render_video,
    render_view,
)

__all__ = [
    "CANVAS_HEIGHT",
    "CANVAS_WIDTH",
    "DEFAULT_MAX_BYTES",
    "VIDEO_CONTENT_TYPE",
    "VIEW_BYTES",
    "VIEW_CONTENT_TYPE",
    "MediaError",
    "MediaInfo",
    "MediaKind",
    "Rendition",
    "RenditionCrop",
    "VideoRenditionInfo",
    "deidentify_dicom",
    "detect_kind",
    "dicom_pixel_spacing_of",
    "encode_png_gray",
    "load_frame",
    "load_image",
    "probe",
    "render_video",
    "render_view",
]
