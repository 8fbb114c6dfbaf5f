"""What makes an uploaded file, or a case's set of sweeps, acceptable."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from trials import media
from trials.models import SAGITTAL_SIDES, Orientation

_VIDEO_FORMATS = {"mp4", "avi", "dicom"}
_IMAGE_FORMATS = {"png", "jpeg", "dicom"}


def validated_media(path: Path, *, expect: str) -> media.MediaInfo:
    """Probe a file and check it is a kind allowed for ``expect`` (video or image)."""
    info = media.probe(path, max_bytes=settings.FONTANELLE_MAX_UPLOAD_BYTES)
    allowed = _VIDEO_FORMATS if expect == "video" else _IMAGE_FORMATS
    if info.kind.value not in allowed:
        raise media.MediaError(
            _("%(kind)s is not accepted here; expected one of %(allowed)s")
            % {"kind": info.kind.value, "allowed": ", ".join(sorted(allowed))}
        )
    if expect == "video" and info.frame_count < 2:
        raise media.MediaError(_("a sweep video needs more than one frame"))
    return info


def sagittal_form_conflict(orientations: Iterable[str]) -> str:
    """Why sweeps of these orientations cannot belong to one case ("" when they can).

    A case has either one sagittal sweep across both sides or a left and a right one. Both
    would leave it unclear which sweeps the AI reads and a junior picks from (the midline
    and each parasagittal plane twice over), and the case's media would show a sweep the
    protocol never made: almost always a file uploaded twice or mislabelled.
    """
    given = set(orientations)
    if Orientation.SAGITTAL in given and given.intersection(SAGITTAL_SIDES):
        return _(
            "A case has either one sagittal sweep or a left and a right sagittal sweep, not both."
        )
    return ""
