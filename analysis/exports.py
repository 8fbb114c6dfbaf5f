"""Exports of the analysis (pure, no Django): tables as CSV and XLSX, reads in long and
FDA iMRMC format, figures as standalone HTML, and the whole analysis as a ZIP.

Every export is built from the same :class:`~analysis.reports.base.Report` objects the
pages and the API show, so their numbers agree. CSV files hold floats at full precision.

The iMRMC input format (FDA/CDRH iMRMC, Gallas et al.): free header lines, the counts
``NR:`` (readers), ``N0:`` (signal-absent cases), ``N1:`` (signal-present cases),
``NM:`` (modalities), then the line ``BEGIN DATA:`` and one comma-separated row per
observation ``readerID,caseID,modalityID,score``; the truth of each case is a row with
readerID ``-1``, modalityID ``0`` and score 0 or 1.
"""

from __future__ import annotations

import io
import json
import platform
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from openpyxl.utils import get_column_letter

from analysis.frames import StudyData
from analysis.reports.base import Report, ReportTable

__all__ = [
    "LONG_COLUMNS",
    "analysis_zip",
    "figure_html",
    "long_format",
    "long_format_csv",
    "manifest",
    "read_imrmc",
    "read_long_csv",
    "report_xlsx",
    "software_versions",
    "table_csv",
    "to_imrmc",
]

LONG_COLUMNS = ("reader", "modality", "case", "truth", "rating")


def table_csv(table: ReportTable) -> bytes:
    """One table as UTF-8 CSV (full float precision, empty cells for missing values)."""
    return table.frame.to_csv(index=False, lineterminator="\n", float_format="%.17g").encode()


def _sheet_name(name: str, used: set[str]) -> str:
    base = "".join(ch for ch in name if ch not in "[]:*?/\\")[:31] or "table"
    candidate, i = base, 1
    while candidate in used:
        suffix = f"_{i}"
        candidate, i = base[: 31 - len(suffix)] + suffix, i + 1
    used.add(candidate)
    return candidate


def _cell(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isinf(value):
        # Excel has no infinite number; an infinite df is shown as the reference
        # packages print it, not left blank like a missing value.
        return "∞" if value > 0 else "-∞"
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def report_xlsx(reports: Report | Iterable[Report]) -> bytes:
    """Every table of ``reports`` as a sheet, with an "about" sheet of titles, methods, n, snapshot."""
    chosen = [reports] if isinstance(reports, Report) else list(reports)
    book = openpyxl.Workbook()
    about = book.active
    about.title = "about"
    about.append(["report", "table", "sheet", "title", "n", "methods", "snapshot"])
    used = {"about"}
    for report in chosen:
        for table in report.tables:
            sheet_name = _sheet_name(f"{report.key}_{table.name}" if len(chosen) > 1 else table.name, used)
            sheet = book.create_sheet(sheet_name)
            sheet.append([str(c) for c in table.frame.columns])
            for row in table.frame.itertuples(index=False):
                sheet.append([_cell(v) for v in row])
            for i, column in enumerate(table.frame.columns, start=1):
                sheet.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(str(column)) + 2))
            about.append([report.key, table.name, sheet_name, table.title, table.n, table.methods, report.snapshot])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def long_format(data: StudyData, modalities: Iterable[str] | None = None) -> pd.DataFrame:
    """The reads as ``reader, modality, case, truth, rating`` (MRMCaov / RJafroc layout)."""
    reads = data.reads
    if modalities is not None:
        reads = reads[reads["modality"].isin(list(modalities))]
    frame = reads.loc[:, list(LONG_COLUMNS)].copy()
    frame["truth"] = frame["truth"].astype(int)
    return frame.sort_values(["modality", "reader", "case"], kind="mergesort").reset_index(drop=True)


def long_format_csv(frame: pd.DataFrame) -> bytes:
    """A long-format frame as CSV (full precision)."""
    return frame.loc[:, list(LONG_COLUMNS)].to_csv(
        index=False, lineterminator="\n", float_format="%.17g"
    ).encode()


def read_long_csv(content: bytes | str) -> pd.DataFrame:
    """Read a long-format CSV written by :func:`long_format_csv` (ids kept as text)."""
    text = content.decode() if isinstance(content, bytes) else content
    frame = pd.read_csv(io.StringIO(text), dtype={"reader": str, "modality": str, "case": str})
    frame["truth"] = frame["truth"].astype(int)
    frame["rating"] = frame["rating"].astype(float)
    return frame


def _imrmc_id(value: Any, what: str) -> str:
    text = str(value)
    if not text or any(ch in text for ch in ",\n\r") or text == "-1":
        raise ValueError(f"{what} {text!r} cannot be written to an iMRMC file")
    return text


def to_imrmc(frame: pd.DataFrame, *, title: str = "", snapshot: str = "") -> str:
    """A long-format frame in the iMRMC input format (header, ``BEGIN DATA:``, rows)."""
    missing = [c for c in LONG_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"long format lacks columns {missing}")
    truth = frame.drop_duplicates("case").set_index("case")["truth"].astype(int)
    lines = [
        "Fontanelle reader-study export for iMRMC",
        f"Study: {title}" if title else "Study:",
        f"Data snapshot (SHA-256): {snapshot}" if snapshot else "Data snapshot (SHA-256):",
        "Truth rows: readerID -1, modalityID 0, score 1 = severe (signal present).",
        f"NR: {frame['reader'].nunique()}",
        f"N0: {int((truth == 0).sum())}",
        f"N1: {int((truth == 1).sum())}",
        f"NM: {frame['modality'].nunique()}",
        "",
        "BEGIN DATA:",
    ]
    for case, value in truth.sort_index().items():
        lines.append(f"-1,{_imrmc_id(case, 'case')},0,{int(value)}")
    ordered = frame.sort_values(["modality", "reader", "case"], kind="mergesort")
    for reader, case, modality, rating in zip(
        ordered["reader"], ordered["case"], ordered["modality"], ordered["rating"], strict=True
    ):
        lines.append(
            f"{_imrmc_id(reader, 'reader')},{_imrmc_id(case, 'case')},"
            f"{_imrmc_id(modality, 'modality')},{float(rating)!r}"
        )
    return "\n".join(lines) + "\n"


def read_imrmc(text: str) -> pd.DataFrame:
    """Parse an iMRMC input file back into the long format (truth joined from the -1 rows)."""
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "BEGIN DATA:") + 1
    except StopIteration:
        raise ValueError("no 'BEGIN DATA:' line: not an iMRMC file") from None
    truth: dict[str, int] = {}
    rows: list[tuple[str, str, str, float]] = []
    for number, line in enumerate(lines[start:], start=start + 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 4:
            raise ValueError(f"line {number}: expected 4 fields, got {len(parts)}")
        reader, case, modality, score = parts
        if reader == "-1":
            truth[case] = int(float(score))
        else:
            rows.append((reader, case, modality, float(score)))
    frame = pd.DataFrame(rows, columns=["reader", "case", "modality", "rating"])
    unknown = set(frame["case"]) - set(truth)
    if unknown:
        raise ValueError(f"cases without a truth row: {sorted(unknown)[:5]}")
    frame["truth"] = frame["case"].map(truth).astype(int)
    return frame.loc[:, list(LONG_COLUMNS)]


def figure_html(figure: go.Figure, title: str = "") -> str:
    """A standalone HTML page of ``figure`` that works offline (plotly.js inlined)."""
    if title:
        figure = go.Figure(figure)
        figure.update_layout(title={"text": title})
    return pio.to_html(figure, include_plotlyjs=True, full_html=True)


def software_versions() -> dict[str, str]:
    """Versions of Python and the numerical libraries behind the numbers."""
    versions = {"python": platform.python_version()}
    for package in ("numpy", "scipy", "statsmodels", "pandas", "plotly", "openpyxl", "fontanelle"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "unknown"
    return versions


def manifest(reports: Iterable[Report], data: StudyData, files: dict[str, str]) -> dict[str, Any]:
    """What the ZIP holds: software versions, the data snapshot, each table's methods and n."""
    return {
        "study": data.title,
        "created": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "snapshot_sha256": data.snapshot,
        "software": software_versions(),
        "reports": [
            {
                "key": report.key,
                "title": report.title,
                "snapshot_sha256": report.snapshot,
                "n": report.n,
                "methods": report.methods,
                "notes": list(report.notes),
                "tables": [
                    {"name": t.name, "title": t.title, "n": t.n, "methods": t.methods,
                     "file": f"tables/{report.key}/{t.name}.csv"}
                    for t in report.tables
                ],
                "figures": [
                    {"name": f.name, "title": f.title, "file": f"figures/{report.key}_{f.name}.html"}
                    for f in report.figures
                ],
            }
            for report in reports
        ],
        "files": files,
    }


def analysis_zip(reports: Iterable[Report], data: StudyData) -> bytes:
    """The whole analysis: tables (CSV and XLSX), figures (HTML), reads, methods, manifest."""
    chosen = list(reports)
    buffer = io.BytesIO()
    files: dict[str, str] = {}
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def put(name: str, content: bytes | str, what: str) -> None:
            archive.writestr(name, content)
            files[name] = what

        for report in chosen:
            for table in report.tables:
                put(f"tables/{report.key}/{table.name}.csv", table_csv(table), table.title)
            for figure in report.figures:
                put(f"figures/{report.key}_{figure.name}.html", figure_html(figure.figure, figure.title),
                    figure.title)
        put("tables/all_tables.xlsx", report_xlsx(chosen), "every table, one sheet each")
        long = long_format(data)
        put("data/reads_long.csv", long_format_csv(long), "all reads, long format")
        put("data/reads.imrmc", to_imrmc(long, title=data.title, snapshot=data.snapshot),
            "all reads, iMRMC input format")
        methods = "\n\n".join(
            f"{report.title}\n" + "\n".join(f"- {t.title} (n: {t.n}): {t.methods}" for t in report.tables)
            for report in chosen
        )
        put("METHODS.txt", methods + f"\n\nData snapshot (SHA-256): {data.snapshot}\n", "methods")
        archive.writestr("manifest.json", json.dumps(manifest(chosen, data, files), indent=2, ensure_ascii=False))
    return buffer.getvalue()
