"""The model registry for real use: register any NCLS model directory, verify it, guard runs.

A model directory is one of the formats the platform writes (no other is guessed at):

- ``published``: ``published.json`` (format ``ncls-published/1``) beside ``detector.safetensors``
  and ``fold_1.safetensors`` … ``fold_5.safetensors``, written by
  ``python -m inference.ncls import-published``;
- ``lite`` / ``full``: what ``train-detector`` and ``train-diagnosis`` write: a diagnosis
  directory (``fold_*.json`` + ``fold_*.safetensors``, optionally ``diagnosis.json``) on its
  own, or a root holding ``diagnosis*/`` and ``detect*/`` sub-directories (as ``demo_models``).

Registering hashes every file now and compares each weights file with the SHA-256 its JSON
record holds (where it holds one). Provenance is read from the JSON: a published import, a
training command line, or neither (uploaded). Verifying hashes every file again; the result
is stored on the model. A model whose files differ from their SHA-256 cannot run: the run
request and the worker both call :func:`model_require_intact` first.

Only the demo code (``register_demo_models``, ``inference.demo``) passes ``is_demo=True``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.files import file_sha256
from inference.models import DEMO_NOTICE, ChecksumMismatch, ModelVersion, Provenance
from trials.audit import audit_record
from trials.models import AuditAction, Membership, Role

__all__ = [
    "MANAGE_PERMISSION",
    "MODEL_VERIFIED",
    "DuplicateModel",
    "ModelDirectory",
    "ModelDirectoryError",
    "Verification",
    "can_manage_models",
    "inspect_model_dir",
    "metric_lines",
    "model_directory",
    "model_register",
    "model_require_intact",
    "model_verify",
]

#: The platform permission that lets a user who is not staff register and verify models.
MANAGE_PERMISSION = "inference.add_modelversion"
#: Audit action of a verification (the audit's action field is free text).
MODEL_VERIFIED = "model.verified"
#: Files recorded with their SHA-256 (weights, their JSON records, exported ONNX graphs).
REGISTERED_SUFFIXES = (".safetensors", ".json", ".onnx")
# The formats the platform's own writers record (kept here so that the web process needs no
# torch import; tests check them against inference.ncls).
PUBLISHED_RECORD = "published.json"
PUBLISHED_FORMAT = "ncls-published/1"
DETECTOR_FORMAT = "ncls-rotated-rtdetr/1"
DIAGNOSIS_FORMAT = "ncls-diagnosis/1"
#: Keys of a JSON record that hold evaluation figures.
METRIC_KEYS = (
    "metrics",
    "validation",
    "out_of_fold_auc",
    "held_out",
    "blind_sweep",
    "localisation",
)
KNOWN_FORMATS = (
    f"{PUBLISHED_RECORD} (format {PUBLISHED_FORMAT}, from `python -m inference.ncls "
    "import-published`), fold_*.json (from train-diagnosis), or diagnosis*/ and detect*/ "
    "sub-directories (from train-diagnosis and train-detector)"
)


class ModelDirectoryError(ValidationError):
    """A model directory that is absent, of an unknown format, incomplete or altered."""


class DuplicateModel(ValidationError):
    """A model with this name and version is registered already."""


# ---------------------------------------------------------------- permissions


def can_manage_models(user: Any) -> bool:
    """Staff, or a user holding :data:`MANAGE_PERMISSION` who reads in no study.

    A reader must not learn which models the platform runs, so a reader membership
    outweighs the permission (staff excepted).
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_staff:
        return True
    if not user.has_perm(MANAGE_PERMISSION):
        return False
    return not Membership.objects.filter(user=user, role=Role.READER).exists()


# ---------------------------------------------------------------- inspecting a directory


@dataclass(frozen=True)
class ModelDirectory:
    """What a model directory holds, as registration records it."""

    path: Path
    profile: str
    provenance: str
    provenance_detail: dict[str, Any]
    files: list[dict[str, Any]]
    metrics: dict[str, Any] = field(default_factory=dict)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelDirectoryError(f"{path.name}: cannot be read as JSON ({exc})") from exc
    if not isinstance(content, dict):
        raise ModelDirectoryError(f"{path.name}: not a JSON object")
    return content


def _hash_files(directory: Path) -> dict[str, dict[str, Any]]:
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.suffix in REGISTERED_SUFFIXES:
            rel = path.relative_to(directory).as_posix()
            if any(part.startswith(".") for part in Path(rel).parts):
                continue  # a hidden left-over (e.g. an interrupted import's scratch copy)
            files[rel] = {"path": rel, "sha256": file_sha256(path), "bytes": path.stat().st_size}
    return files


def _check_recorded(
    files: dict[str, dict[str, Any]], record: str, weights: Any, sha256: Any
) -> str:
    """Compare one weights file with the SHA-256 its JSON record holds; return its path."""
    if not isinstance(weights, str) or not weights:
        raise ModelDirectoryError(f"{record}: names no weights file")
    rel = (Path(record).parent / weights).as_posix()
    rel = rel[2:] if rel.startswith("./") else rel
    if rel not in files:
        raise ModelDirectoryError(f"{rel}: listed in {record} but missing from the directory")
    if sha256 and files[rel]["sha256"] != sha256:
        raise ModelDirectoryError(
            f"checksum mismatch: {rel} has SHA-256 {files[rel]['sha256']}, but {record} "
            f"records {sha256}"
        )
    return rel


def _metrics_of(rel: str, content: dict[str, Any]) -> dict[str, Any]:
    return {key: content[key] for key in METRIC_KEYS if key in content}


def _inspect_published(directory: Path, files: dict[str, dict[str, Any]]) -> ModelDirectory:
    record = _read_json(directory / PUBLISHED_RECORD)
    if record.get("format") != PUBLISHED_FORMAT:
        raise ModelDirectoryError(
            f"{PUBLISHED_RECORD}: unknown format {record.get('format')!r} "
            f"(expected {PUBLISHED_FORMAT})"
        )
    try:
        folds = list(record["diagnosis"]["folds"])
        detector = record.get("detector")
        networks = [(f"fold {f['fold']}", f) for f in folds]
    except (KeyError, TypeError) as exc:
        raise ModelDirectoryError(f"{PUBLISHED_RECORD}: incomplete record ({exc!r})") from exc
    if not folds:
        raise ModelDirectoryError(f"{PUBLISHED_RECORD}: no diagnosis folds")
    if detector:
        networks.insert(0, ("detector", detector))
    sources = []
    for network, entry in networks:
        if not isinstance(entry, dict):
            raise ModelDirectoryError(f"{PUBLISHED_RECORD}: the {network} entry is not an object")
        if not entry.get("sha256"):
            raise ModelDirectoryError(f"{PUBLISHED_RECORD}: no SHA-256 for the {network}")
        rel = _check_recorded(files, PUBLISHED_RECORD, entry.get("weights"), entry["sha256"])
        source = entry.get("source") or {}
        sources.append(
            {
                "network": network,
                "weights": rel,
                "source_file": source.get("file", ""),
                "source_sha256": source.get("sha256", ""),
            }
        )
    detail = {
        "format": PUBLISHED_FORMAT,
        "command": record.get("command") or "",
        "imported_at": record.get("imported_at", ""),
        "source_repository": record.get("source_repository", ""),
        "recorded_version": record.get("version", ""),
        "detector": bool(detector),
        "sources": sources,
    }
    return ModelDirectory(
        path=directory,
        profile=str(record.get("profile") or "published"),
        provenance=Provenance.PUBLISHED,
        provenance_detail=detail,
        files=list(files.values()),
        metrics={},
    )


def _platform_dirs(directory: Path) -> tuple[Path, Path | None]:
    """The diagnosis directory and the detector's (if any), as the pipeline resolves them."""
    if any(directory.glob("fold_*.json")):
        return directory, None
    diagnosis = sorted(p for p in directory.glob("diagnosis*") if p.is_dir())
    detection = sorted(p for p in directory.glob("detect*") if p.is_dir())
    if not diagnosis:
        raise ModelDirectoryError(
            f"{directory}: unknown model directory format; expected {KNOWN_FORMATS}"
        )
    return diagnosis[0], (detection[0] if detection else None)


def _inspect_platform(directory: Path, files: dict[str, dict[str, Any]]) -> ModelDirectory:
    diagnosis_dir, detector_dir = _platform_dirs(directory)
    profiles: dict[str, str] = {}
    commands: dict[str, str] = {}
    metrics: dict[str, Any] = {}
    demo_data = False
    fold_records = sorted(diagnosis_dir.glob("fold_*.json"))
    if not fold_records:
        raise ModelDirectoryError(f"{diagnosis_dir.name}: no fold_*.json (train-diagnosis output)")
    for path in fold_records:
        rel = path.relative_to(directory).as_posix()
        content = _read_json(path)
        if content.get("format") != DIAGNOSIS_FORMAT:
            raise ModelDirectoryError(
                f"{rel}: unknown format {content.get('format')!r} (expected {DIAGNOSIS_FORMAT})"
            )
        _check_recorded(files, rel, content.get("weights"), content.get("sha256"))
        profiles.setdefault("diagnosis", str(content.get("profile") or ""))
        if content.get("command"):
            commands.setdefault("diagnosis", str(content["command"]))
        demo_data = demo_data or bool(content.get("demo"))
        if found := _metrics_of(rel, content):
            metrics[rel] = found
    summary = diagnosis_dir / "diagnosis.json"
    if summary.is_file():
        rel = summary.relative_to(directory).as_posix()
        content = _read_json(summary)
        if content.get("command"):
            commands["diagnosis"] = str(content["command"])  # the run that trained all folds
        demo_data = demo_data or bool(content.get("demo"))
        if found := _metrics_of(rel, content):
            metrics[rel] = found
    if detector_dir is not None:
        records = []
        for path in sorted(detector_dir.glob("*.json")):
            content = _read_json(path)
            if content.get("format") == DETECTOR_FORMAT:
                records.append((path, content))
        if not records:
            raise ModelDirectoryError(
                f"{detector_dir.name}: no detector record (a JSON of format {DETECTOR_FORMAT})"
            )
        for path, content in records:
            rel = path.relative_to(directory).as_posix()
            _check_recorded(files, rel, content.get("weights_file"), content.get("weights_sha256"))
            profiles.setdefault("detector", str(content.get("profile") or ""))
            if content.get("command"):
                commands.setdefault("detector", str(content["command"]))
            demo_data = demo_data or "phantom" in str(content.get("note", "")).lower()
            if found := _metrics_of(rel, content):
                metrics[rel] = found
    distinct = sorted({p for p in profiles.values() if p})
    profile = distinct[0] if len(distinct) == 1 else ("mixed" if distinct else "unknown")
    detail: dict[str, Any] = {
        "format": "platform",
        "profiles": profiles,
        "detector": detector_dir is not None,
        "commands": commands,
        "trained_on_demo_data": demo_data,
    }
    return ModelDirectory(
        path=directory,
        profile=profile,
        provenance=Provenance.TRAINED if commands else Provenance.UPLOADED,
        provenance_detail=detail,
        files=list(files.values()),
        metrics=metrics,
    )


def inspect_model_dir(directory: Path | str) -> ModelDirectory:
    """Read and hash a model directory; raise :class:`ModelDirectoryError` if it is not one."""
    path = Path(directory).expanduser()
    if not str(directory).strip():
        raise ModelDirectoryError("no model directory given")
    if not path.exists():
        raise ModelDirectoryError(f"{path}: no such directory")
    if not path.is_dir():
        raise ModelDirectoryError(f"{path}: not a directory")
    files = _hash_files(path)
    if (path / PUBLISHED_RECORD).is_file():
        info = _inspect_published(path, files)
    else:
        info = _inspect_platform(path, files)
    if not any(f["path"].endswith(".safetensors") for f in info.files):
        raise ModelDirectoryError(f"{path}: holds no .safetensors checkpoint")
    return info


# ---------------------------------------------------------------- registering


def _stored_directory(directory: Path) -> str:
    resolved = directory.resolve()
    try:
        return str(resolved.relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        return str(resolved)


def model_directory(model_version: ModelVersion) -> Path:
    """The absolute directory of a registered model (stored relative to BASE_DIR when inside)."""
    path = Path(model_version.directory)
    return path if path.is_absolute() else Path(settings.BASE_DIR) / path


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


# ---------------------------------------------------------------- verifying


@dataclass(frozen=True)
class Verification:
    """The outcome of hashing every file of a registered model again."""

    ok: bool
    problems: list[str]
    checked: int
    at: Any


#: SHA-256 of files this process hashed, by path, with the file's identity when hashed.
_hashed: dict[str, tuple[tuple[int, ...], str]] = {}
_HASHED_MAX = 512
#: A file changed less than this long ago is hashed every time: file times are coarse (a
#: clock tick), so a second write in the same tick could leave them as they were.
_SETTLED_NS = 2_000_000_000


def _sha256_reusing(path: Path) -> str:
    """A file's SHA-256, hashed again only if its inode, size, mtime or ctime changed.

    Any write changes a file's ctime, which no user-space call can set back, so an unchanged
    identity means unchanged bytes; the guards before every case use this (hashing a
    published model's ~770 MB for each case would cost about a second per case).
    """
    info = path.stat()
    identity = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    key = str(path.resolve())
    cached = _hashed.get(key)
    if cached is not None and cached[0] == identity:
        return cached[1]
    digest = file_sha256(path)
    if time.time_ns() - max(info.st_mtime_ns, info.st_ctime_ns) < _SETTLED_NS:
        _hashed.pop(key, None)
        return digest
    if len(_hashed) >= _HASHED_MAX:
        _hashed.pop(next(iter(_hashed)))
    _hashed[key] = (identity, digest)
    return digest


def _problems(model_version: ModelVersion, *, reuse: bool = False) -> list[str]:
    directory = model_directory(model_version)
    problems = []
    for entry in model_version.files:
        path = directory / entry["path"]
        if not path.is_file():
            problems.append(f"{entry['path']}: missing")
            continue
        actual = _sha256_reusing(path) if reuse else file_sha256(path)
        if actual != entry["sha256"]:
            problems.append(
                f"{entry['path']}: changed since registration (SHA-256 {actual}, "
                f"registered {entry['sha256']})"
            )
    return problems


def model_verify(*, actor: Any, model_version: ModelVersion, audit: bool = True) -> Verification:
    """Hash every file of ``model_version`` again (no reuse); store (and audit) the result."""
    problems = _problems(model_version)
    now = timezone.now()
    ok = not problems
    with transaction.atomic():
        ModelVersion.objects.filter(pk=model_version.pk).update(
            verified_at=now, verification_ok=ok, verification_problems=problems, modified=now
        )
        if audit:
            audit_record(
                actor=actor if getattr(actor, "pk", None) else None,
                action=MODEL_VERIFIED,
                target=model_version,
                after={"ok": ok, "problems": problems, "files": len(model_version.files)},
            )
    model_version.verified_at, model_version.verification_ok = now, ok
    model_version.verification_problems = problems
    return Verification(ok=ok, problems=problems, checked=len(model_version.files), at=now)


def model_require_intact(*, model_version: ModelVersion, actor: Any = None) -> Path:
    """The model's directory if every file still matches its SHA-256; else refuse.

    A refusal is stored on the model (and audited) and raised as
    :class:`~inference.models.ChecksumMismatch` with a message that says what to do.
    A pass is not stored: the worker checks before every case (a file whose identity is
    unchanged since this process hashed it is not hashed again; :func:`model_verify` always
    hashes every file).
    """
    problems = _problems(model_version, reuse=True)
    if not problems:
        return model_directory(model_version)
    model_verify(actor=actor, model_version=model_version)
    shown = "; ".join(problems[:3]) + ("; …" if len(problems) > 3 else "")
    raise ChecksumMismatch(
        f"Model {model_version.name} {model_version.version} cannot run: its files no longer "
        f"match the SHA-256 recorded when it was registered ({shown}). Restore the files or "
        "register the model again, then verify it on the models page."
    )


# ---------------------------------------------------------------- display


#: The figures a model's page shows of each record (the full metrics stay in the API).
_HEADLINE_METRICS = {
    "auc",
    "out_of_fold_auc",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "f1",
    "map",
    "n",
    "n_severe",
}
#: ``localisation`` (heatmaps on phantom lesions) has a table of its own on the models page.
_SKIPPED_METRICS = {
    "ap",
    "ground_truth",
    "f1_by_threshold",
    "rules",
    "config",
    "recorded_with",
    "localisation",
}


def metric_lines(metrics: dict[str, Any]) -> list[tuple[str, list[tuple[str, Any]]]]:
    """``[(record, [(dotted key, number), …]), …]``: the headline figures of a model's metrics.

    Summary records come before per-fold ones.
    """
    lines = []
    for source in sorted(metrics, key=lambda s: (Path(s).name.startswith("fold_"), s)):
        found: list[tuple[str, Any]] = []

        def walk(prefix: str, value: Any, found: list[tuple[str, Any]] = found) -> None:
            if isinstance(value, dict):
                for key, inner in value.items():
                    if key not in _SKIPPED_METRICS:
                        walk(f"{prefix}.{key}" if prefix else str(key), inner)
            elif (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and prefix.rsplit(".", 1)[-1] in _HEADLINE_METRICS
            ):
                label = prefix.removeprefix("metrics.")
                found.append((label, round(value, 4) if isinstance(value, float) else value))

        walk("", metrics[source])
        if found:
            lines.append((source, found))
    return lines


def notice(model_version: ModelVersion) -> str:
    """The demo notice of a demo model, else empty."""
    return DEMO_NOTICE if model_version.is_demo else ""


def model_body(model: ModelVersion) -> dict[str, Any]:
    """A model version as the API shows it (the registry's fields; the models list shows
    a part of them)."""
    return {
        "id": str(model.pk),
        "name": model.name,
        "version": model.version,
        "profile": model.profile,
        "provenance": model.provenance,
        "provenance_detail": model.provenance_detail,
        "directory": model.directory,
        "demo": model.is_demo,
        "notice": notice(model),
        "metrics": model.metrics,
        "files": model.files,
        "registered_at": model.created,
        "verified_at": model.verified_at,
        "verification_ok": model.verification_ok,
        "verification_problems": model.verification_problems,
    }
