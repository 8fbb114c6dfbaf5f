"""Where the public validation data sets are found (shared by the statistics tests)."""

from __future__ import annotations

import os
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def validation_file(folder: str, name: str, copy: str | None = None) -> Path:
    """FONTANELLE_VALIDATION_DIR, else <repo>/../shared/validation, else the copy in data/."""
    candidates = []
    if os.environ.get("FONTANELLE_VALIDATION_DIR"):
        candidates.append(Path(os.environ["FONTANELLE_VALIDATION_DIR"]) / folder / name)
    candidates.append(_HERE.parents[1].parent / "shared" / "validation" / folder / name)
    candidates.append(_HERE / "data" / (copy or name))
    for path in candidates:
        if path.exists():
            return path
    tried = "\n  ".join(str(p) for p in candidates)
    raise FileNotFoundError(
        f"validation data set {folder}/{name} is missing; looked in:\n  {tried}\n"
        "put the public validation data in ../shared/validation (or set "
        "FONTANELLE_VALIDATION_DIR), or restore the copy in tests/analysis/data/"
    )
