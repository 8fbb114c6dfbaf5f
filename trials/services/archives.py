"""Unpacking an uploaded case archive (manifest.csv plus the files it names)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def archive_extract(*, upload: Any, destination: Path) -> Path:
    """Extract a ZIP upload into ``destination``; return the path of its manifest.csv.

    Refuses archives that are not ZIP files, that would write outside ``destination``,
    that unpack to more than the upload limit, or that have no manifest.csv.
    """
    archive_path = destination / "upload.zip"
    with archive_path.open("wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    if not zipfile.is_zipfile(archive_path):
        raise ValidationError(_("The upload is not a ZIP archive."))
    root = (destination / "files").resolve()
    root.mkdir()
    limit = settings.FONTANELLE_MAX_UPLOAD_BYTES
    try:
        with zipfile.ZipFile(archive_path) as archive:
            total = sum(info.file_size for info in archive.infolist())
            if total > limit:
                raise ValidationError(_("The archive unpacks to more than %d bytes.") % limit)
            for info in archive.infolist():
                target = (root / info.filename).resolve()
                if root not in target.parents and target != root:
                    raise ValidationError(
                        _("The archive holds a path outside its folder: %s") % info.filename
                    )
            archive.extractall(root)
    except zipfile.BadZipFile as exc:
        raise ValidationError(_("The ZIP archive is damaged: %s") % exc) from exc
    manifests = [root / "manifest.csv", *root.glob("*/manifest.csv")]
    for manifest in manifests:
        if manifest.is_file():
            return manifest
    raise ValidationError(_("The archive has no manifest.csv."))
