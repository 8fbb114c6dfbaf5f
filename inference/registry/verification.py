"""Verifying a registered model's files, and the guard every run passes first."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.files import file_sha256
from inference.models import ChecksumMismatch, ModelVersion
from inference.registry.registration import model_directory
from trials.audit import audit_record

#: Audit action of a verification (the audit's action field is free text).
MODEL_VERIFIED = "model.verified"


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
