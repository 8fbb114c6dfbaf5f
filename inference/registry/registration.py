"""Registering a model directory as a model version (audited)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inference.models import ModelVersion
from inference.registry.inspection import inspect_model_dir
from trials.audit import audit_record
from trials.models import AuditAction


class DuplicateModel(ValidationError):
    """A model with this name and version is registered already."""


def _stored_directory(directory: Path) -> str:
    """Where the model's directory is recorded: relative to BASE_DIR when inside it."""
    resolved = directory.resolve()
    try:
        return str(resolved.relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        return str(resolved)


def model_directory(model_version: ModelVersion) -> Path:
    """The absolute directory of a registered model (stored relative to BASE_DIR when inside)."""
    path = Path(model_version.directory)
    return path if path.is_absolute() else Path(settings.BASE_DIR) / path


def _checked_name_and_version(name: str, version: str) -> tuple[str, str]:
    """A model's name and version, stripped; both required and within their fields' lengths."""
    name, version = (name or "").strip(), (version or "").strip()
    name_field = ModelVersion._meta.get_field("name")
    version_field = ModelVersion._meta.get_field("version")
    assert name_field.max_length is not None and version_field.max_length is not None  # CharFields
    if not name or not version:
        raise ValidationError(_("a model needs a name and a version"))
    if len(name) > name_field.max_length or len(version) > version_field.max_length:
        raise ValidationError(
            _("name at most %(name)d and version at most %(version)d characters")
            % {"name": name_field.max_length, "version": version_field.max_length}
        )
    return name, version


def model_register(
    *,
    actor: Any,
    directory: Path | str,
    name: str,
    version: str,
    is_demo: bool = False,
    exist_ok: bool = False,
) -> ModelVersion:
    """Register the model directory ``directory`` as ``name`` ``version``.

    Raises :class:`ModelDirectoryError` (missing, unknown format, checksum mismatch) or
    :class:`DuplicateModel`. ``exist_ok`` returns an existing registration instead (the demo).
    """
    name, version = _checked_name_and_version(name, version)
    existing = ModelVersion.objects.filter(name=name, version=version).first()
    if existing is not None:
        if exist_ok:
            return existing
        raise DuplicateModel(f"model {name} {version} is registered already")
    info = inspect_model_dir(directory)  # hashing is slow: outside the transaction
    try:
        with transaction.atomic():
            model = ModelVersion.objects.create(
                name=name,
                version=version,
                profile=info.profile[:16],
                directory=_stored_directory(info.path),
                files=info.files,
                metrics=info.metrics,
                is_demo=is_demo,
                provenance=info.provenance,
                provenance_detail=info.provenance_detail,
                registered_by=actor if getattr(actor, "pk", None) else None,
                verified_at=timezone.now(),
                verification_ok=True,
                verification_problems=[],
            )
            audit_record(
                actor=actor,
                action=AuditAction.MODEL_REGISTERED,
                target=model,
                after={
                    "name": name,
                    "version": version,
                    "profile": model.profile,
                    "provenance": model.provenance,
                    "demo": is_demo,
                    "directory": model.directory,
                    "files": {f["path"]: f["sha256"] for f in info.files},
                },
            )
    except IntegrityError as exc:
        if exist_ok:
            return ModelVersion.objects.get(name=name, version=version)
        raise DuplicateModel(f"model {name} {version} is registered already") from exc
    return model
