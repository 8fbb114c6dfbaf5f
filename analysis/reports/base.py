"""The frozen report type every report returns, and its exact JSON round trip."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

__all__ = ["Report", "ReportFigure", "ReportTable"]


@dataclass(frozen=True, eq=False)
class ReportTable:
    """A named table with the methods behind it and the data it counts (its n)."""

    name: str
    title: str
    frame: pd.DataFrame
    methods: str
    n: str


@dataclass(frozen=True, eq=False)
class ReportFigure:
    """A named plotly figure."""

    name: str
    title: str
    figure: go.Figure


@dataclass(frozen=True, eq=False)
class Report:
    """One report: tables, figures, methods, n and the snapshot of the data it used."""

    key: str
    title: str
    tables: tuple[ReportTable, ...]
    figures: tuple[ReportFigure, ...]
    methods: str
    n: dict[str, int]
    snapshot: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def table(self, name: str) -> ReportTable:
        """The table called ``name``; ``KeyError`` if there is none."""
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; floats kept exactly (NaN as null, ±∞ as "Infinity"/"-Infinity").

        An infinite value means something (a Hillis df of ∞), so it is not written as a
        missing one; JSON has no number for it, hence the strings, which
        :meth:`from_dict` reads back as floats.
        """
        return {
            "key": self.key,
            "title": self.title,
            "methods": self.methods,
            "n": dict(self.n),
            "snapshot": self.snapshot,
            "notes": list(self.notes),
            "tables": [
                {
                    "name": t.name,
                    "title": t.title,
                    "methods": t.methods,
                    "n": t.n,
                    "columns": [str(c) for c in t.frame.columns],
                    "rows": [[_plain(v) for v in row] for row in t.frame.itertuples(index=False)],
                }
                for t in self.tables
            ],
            "figures": [
                {"name": f.name, "title": f.title, "figure": json.loads(pio.to_json(f.figure))}
                for f in self.figures
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """The report that :meth:`to_dict` wrote."""
        return cls(
            key=data["key"],
            title=data["title"],
            methods=data["methods"],
            n=dict(data["n"]),
            snapshot=data["snapshot"],
            notes=tuple(data.get("notes", ())),
            tables=tuple(
                ReportTable(
                    name=t["name"],
                    title=t["title"],
                    frame=pd.DataFrame(
                        [[_unplain(v) for v in row] for row in t["rows"]],
                        columns=t["columns"],
                    )
                    if t["rows"]
                    else pd.DataFrame(columns=t["columns"]),
                    methods=t["methods"],
                    n=t["n"],
                )
                for t in data["tables"]
            ),
            figures=tuple(
                ReportFigure(f["name"], f["title"], pio.from_json(json.dumps(f["figure"])))
                for f in data["figures"]
            ),
        )


_INFINITIES = {"Infinity": math.inf, "-Infinity": -math.inf}


def _plain(value: Any) -> Any:
    """A JSON-safe Python scalar (numpy types unwrapped, NaN as None, ±∞ as strings)."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _unplain(value: Any) -> Any:
    """The cell :func:`_plain` wrote: None as NaN, the infinity strings as floats."""
    if value is None:
        return np.nan
    if isinstance(value, str):
        return _INFINITIES.get(value, value)
    return value
