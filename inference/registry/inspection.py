"""Inspecting a model directory: its format, files with their SHA-256, provenance, metrics."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.files import file_sha256
from inference.models import Provenance
from inference.registry.formats import (
    DETECTOR_FORMAT,
    DIAGNOSIS_FORMAT,
    KNOWN_FORMATS,
    METRIC_KEYS,
    PUBLISHED_FORMAT,
    PUBLISHED_RECORD,
    REGISTERED_SUFFIXES,
    ModelDirectoryError,
)


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


@dataclass
class _PlatformRecords:
    """What the JSON records of a platform directory say, gathered part by part."""

    profiles: dict[str, str] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    demo_data: bool = False

    def add_metrics(self, rel: str, content: dict[str, Any]) -> None:
        """Keep the evaluation figures of the record at ``rel``, if it holds any."""
        if found := _metrics_of(rel, content):
            self.metrics[rel] = found


def _inspect_platform(directory: Path, files: dict[str, dict[str, Any]]) -> ModelDirectory:
    """A ``lite``/``full`` directory: diagnosis folds (and summary), optional detector."""
    diagnosis_dir, detector_dir = _platform_dirs(directory)
    records = _PlatformRecords()
    _read_diagnosis_records(directory, diagnosis_dir, files, records)
    if detector_dir is not None:
        _read_detector_records(directory, detector_dir, files, records)
    profiles, commands = records.profiles, records.commands
    distinct = sorted({p for p in profiles.values() if p})
    profile = distinct[0] if len(distinct) == 1 else ("mixed" if distinct else "unknown")
    detail: dict[str, Any] = {
        "format": "platform",
        "profiles": profiles,
        "detector": detector_dir is not None,
        "commands": commands,
        "trained_on_demo_data": records.demo_data,
    }
    return ModelDirectory(
        path=directory,
        profile=profile,
        provenance=Provenance.TRAINED if commands else Provenance.UPLOADED,
        provenance_detail=detail,
        files=list(files.values()),
        metrics=records.metrics,
    )


def _read_diagnosis_records(
    directory: Path,
    diagnosis_dir: Path,
    files: dict[str, dict[str, Any]],
    records: _PlatformRecords,
) -> None:
    """Check every fold record against its weights; read profile, command, demo flag, metrics."""
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
        records.profiles.setdefault("diagnosis", str(content.get("profile") or ""))
        if content.get("command"):
            records.commands.setdefault("diagnosis", str(content["command"]))
        records.demo_data = records.demo_data or bool(content.get("demo"))
        records.add_metrics(rel, content)
    summary = diagnosis_dir / "diagnosis.json"
    if summary.is_file():
        rel = summary.relative_to(directory).as_posix()
        content = _read_json(summary)
        if content.get("command"):
            # the run that trained all folds
            records.commands["diagnosis"] = str(content["command"])
        records.demo_data = records.demo_data or bool(content.get("demo"))
        records.add_metrics(rel, content)


def _read_detector_records(
    directory: Path,
    detector_dir: Path,
    files: dict[str, dict[str, Any]],
    records: _PlatformRecords,
) -> None:
    """Check the detector records against their weights; read profile, command, metrics."""
    detector_records = []
    for path in sorted(detector_dir.glob("*.json")):
        content = _read_json(path)
        if content.get("format") == DETECTOR_FORMAT:
            detector_records.append((path, content))
    if not detector_records:
        raise ModelDirectoryError(
            f"{detector_dir.name}: no detector record (a JSON of format {DETECTOR_FORMAT})"
        )
    for path, content in detector_records:
        rel = path.relative_to(directory).as_posix()
        _check_recorded(files, rel, content.get("weights_file"), content.get("weights_sha256"))
        records.profiles.setdefault("detector", str(content.get("profile") or ""))
        if content.get("command"):
            records.commands.setdefault("detector", str(content["command"]))
        records.demo_data = records.demo_data or "phantom" in str(content.get("note", "")).lower()
        records.add_metrics(rel, content)


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
