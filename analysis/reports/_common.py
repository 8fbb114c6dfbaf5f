"""Helpers shared by the report modules (pure): labels, colours, counts, columns.

No statistic lives here: every number comes from :mod:`analysis.stats`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.frames import StudyData
from analysis.stats import ConfidenceInterval

LEVEL = 0.95


def gettext_noop(message: str) -> str:
    """Mark a report string for translation (Django's ``makemessages`` finds this name).

    The report modules import no Django; pages translate the marked strings when they
    render them (``gettext(title)``).
    """
    return message


GROUP_LABELS = {
    "junior": "Junior",
    "mid_level": "Mid-level",
    "junior_ai": "Junior with AI",
    "ai": "AI",
}
COLORS = {"junior": "#1f77b4", "mid_level": "#2ca02c", "junior_ai": "#ff7f0e", "ai": "#d62728"}


def read_datasets(data: StudyData) -> list[str]:
    """Datasets with reads, in the order the cases list them."""
    present = set(data.reads["dataset"].dropna().astype(str))
    ordered = [d for d in pd.unique(data.cases["dataset"].astype(str)) if d in present]
    return ordered + sorted(present - set(ordered))


def counts(data: StudyData) -> dict[str, int]:
    """The n of a study: cases, readers, reads (and blinded/qualitative rows)."""
    reads = data.reads
    return {
        "cases": int(reads["case"].nunique()) if not reads.empty else 0,
        "readers": int(reads.loc[reads["tier"] != "ai", "reader"].nunique())
        if not reads.empty
        else 0,
        "reads": len(reads),
        "blinded_reviews": len(data.blinded),
        "qualitative_scores": len(data.qualitative),
    }


def ci_cols(prefix: str, value: float, ci: ConfidenceInterval | None) -> dict[str, Any]:
    """``prefix``, ``prefix_low``, ``prefix_high`` columns of a row."""
    return {
        prefix: float(value),
        f"{prefix}_low": float(ci.low) if ci is not None else np.nan,
        f"{prefix}_high": float(ci.high) if ci is not None else np.nan,
    }
