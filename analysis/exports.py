"""Exports of the analysis (pure, no Django): tables as CSV and XLSX, reads in long and
FDA iMRMC format, figures as standalone HTML, and the whole analysis as a ZIP.

Every export is built from the same :class:`~analysis.reports.base.Report` objects the
pages and the API show, so their numbers agree. CSV files hold floats at full precision.

The iMRMC input format (FDA/CDRH iMRMC, Gallas et al.): free header lines, the counts
``NR:`` (readers), ``N0:`` (signal-absent cases), ``N1:`` (signal-present cases),
``NM:`` (modalities), then the line ``BEGIN DATA:`` and one comma-separated row per
observation ``readerID,caseID,modalityID,score``; the truth of each case is a row with
readerID ``-1``, modalityID ``0`` and score 0 or 1.

iMRMC analyses one file as a set of modalities read by the same readers: a file that
mixes modalities sharing no reader (the AI alone in one, mid-level readers only in
another) stops it with ``IllegalArgumentException: n <= 0``. :func:`imrmc_comparisons`
therefore cuts one fully crossed file per analysable comparison. The rules of iMRMC 4's
parser (``mrmc.core.InputFile``, DIDSR/iMRMC) that the files keep: a header line that
contains ``N0:``, ``N1:``, ``NR:`` or ``NM:`` anywhere (case-insensitive) is read as that
count (the text after its first three characters must be an integer), so free header
lines never contain them; the data start after the line that begins with ``BEGIN DATA:``;
no empty line after it; whitespace inside a field is dropped, so identifiers carry none;
a truth row's score is exactly ``0`` or ``1``; a reader's ratings in a modality are used
only when he rated at least 3 signal-absent and 3 signal-present cases there.
"""

from __future__ import annotations

import io
import json
import platform
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from openpyxl.utils import get_column_letter

from analysis.frames import AI_READER, SCORE_BINARY, SCORE_RATINGS, StudyData
from analysis.reports.base import Report, ReportTable

__all__ = [
    "LONG_COLUMNS",
    "ImrmcComparison",
    "analysis_zip",
    "figure_html",
    "imrmc_comparisons",
    "imrmc_zip",
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
    """Every table of ``reports`` as a sheet, and an "about" sheet: titles, methods, n, snapshot."""
    chosen = [reports] if isinstance(reports, Report) else list(reports)
    book = openpyxl.Workbook()
    about = book.active
    about.title = "about"
    about.append(["report", "table", "sheet", "title", "n", "methods", "snapshot"])
    used = {"about"}
    for report in chosen:
        for table in report.tables:
            sheet_name = _sheet_name(
                f"{report.key}_{table.name}" if len(chosen) > 1 else table.name, used
            )
            sheet = book.create_sheet(sheet_name)
            sheet.append([str(c) for c in table.frame.columns])
            for row in table.frame.itertuples(index=False):
                sheet.append([_cell(v) for v in row])
            for i, column in enumerate(table.frame.columns, start=1):
                sheet.column_dimensions[get_column_letter(i)].width = max(
                    10, min(40, len(str(column)) + 2)
                )
            about.append(
                [
                    report.key,
                    table.name,
                    sheet_name,
                    table.title,
                    table.n,
                    table.methods,
                    report.snapshot,
                ]
            )
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
    return frame.sort_values(["modality", "reader", "case"], kind="mergesort").reset_index(
        drop=True
    )


def long_format_csv(frame: pd.DataFrame) -> bytes:
    """A long-format frame as CSV (full precision)."""
    return (
        frame.loc[:, list(LONG_COLUMNS)]
        .to_csv(index=False, lineterminator="\n", float_format="%.17g")
        .encode()
    )


#: Column of ``StudyData.reads`` (from the database) with the workstation's tool counts of a
#: read as JSON text (:mod:`readers.tool_use`); empty for the AI and where none were sent.
TOOL_USE_COLUMN = "tool_use"


def reads_csv(data: StudyData) -> bytes:
    """Every read with its read time and, where recorded, its tool counts (``tool_use``).

    ``rating`` is the score the analyses used; ``reader_rating`` (from the database) the
    probability-of-severe rating the reader gave, empty where none.
    """
    reads = data.reads
    columns = [c for c in reads.columns if c != TOOL_USE_COLUMN]
    frame = reads.loc[:, columns].copy()
    frame[TOOL_USE_COLUMN] = reads[TOOL_USE_COLUMN] if TOOL_USE_COLUMN in reads.columns else ""
    frame = frame.sort_values(["modality", "reader", "case"], kind="mergesort")
    return frame.to_csv(index=False, lineterminator="\n", float_format="%.17g").encode()


def read_long_csv(content: bytes | str) -> pd.DataFrame:
    """Read a long-format CSV written by :func:`long_format_csv` (ids kept as text)."""
    text = content.decode() if isinstance(content, bytes) else content
    frame = pd.read_csv(io.StringIO(text), dtype={"reader": str, "modality": str, "case": str})
    frame["truth"] = frame["truth"].astype(int)
    frame["rating"] = frame["rating"].astype(float)
    return frame


def _imrmc_id(value: Any, what: str) -> str:
    text = str(value)
    if (
        not text
        or any(ch in text for ch in ",")
        or any(ch.isspace() for ch in text)
        or text in ("-1", "truth")
    ):
        raise ValueError(f"{what} {text!r} cannot be written to an iMRMC file")
    return text


_COUNT_TOKEN = re.compile(r"(N[01RM])\s*:", re.IGNORECASE)


def _imrmc_free_line(text: str) -> str:
    """A free header line iMRMC reads as free text: no count token, not BEGIN DATA, not one
    character long (its reader fails on a one-character line)."""
    line = _COUNT_TOKEN.sub(lambda m: f"{m.group(1)} =", " ".join(str(text).split()))
    if line.upper().startswith("BEGIN DATA"):
        line = "# " + line
    return line if len(line) != 1 else line + "."


def to_imrmc(
    frame: pd.DataFrame, *, title: str = "", snapshot: str = "", description: Iterable[str] = ()
) -> str:
    """A long-format frame in the iMRMC input format (header, ``BEGIN DATA:``, rows).

    ``description``: free header lines saying what the file holds. Nothing is checked
    about the design here; :func:`imrmc_comparisons` gives files iMRMC can analyse.
    """
    missing = [c for c in LONG_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"long format lacks columns {missing}")
    if not np.all(np.isfinite(frame["rating"].to_numpy(dtype=float))):
        raise ValueError("ratings must be finite numbers")
    truth = frame.drop_duplicates("case").set_index("case")["truth"].astype(int)
    free = [
        "Fontanelle reader-study export for iMRMC",
        f"Study: {title}" if title else "Study:",
        f"Data snapshot (SHA-256): {snapshot}" if snapshot else "Data snapshot (SHA-256):",
        *description,
        "Truth rows: readerID -1, modalityID 0, score 1 = severe (signal present).",
    ]
    lines = [
        *(_imrmc_free_line(line) for line in free),
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


@dataclass(frozen=True)
class ImrmcComparison:
    """One analysable comparison: a fully crossed readers × modalities × cases cut."""

    name: str
    description: tuple[str, ...]
    frame: pd.DataFrame


#: iMRMC uses a reader's ratings in a modality only with more than 2 cases of each truth.
IMRMC_MIN_PER_CLASS = 3


def _crossed(
    reads: pd.DataFrame, readers: list[str], modalities: list[str]
) -> tuple[pd.DataFrame, int]:
    """The reads of ``readers`` in ``modalities`` on the cases each of them read in each; and
    how many cases were left out for not being read by all."""
    rows = reads[reads["reader"].isin(readers) & reads["modality"].isin(modalities)]
    rows = rows.drop_duplicates(["reader", "modality", "case"], keep="last")
    per_case = rows.groupby("case").size()
    complete = per_case.index[per_case == len(readers) * len(modalities)]
    return rows[rows["case"].isin(complete)], int(per_case.size - complete.size)


#: The header line of an iMRMC file saying what its scores are (by ``StudyData.score_source``).
IMRMC_SCORE_LINES = {
    SCORE_RATINGS: "Scores: reader ratings 0-100 "
    "(each reader's probability that the case is severe); "
    "the AI's severe probability x 100.",
    SCORE_BINARY: "Scores: binary answers (0 = not severe, 100 = severe); "
    "the study collects no ratings. "
    "The AI's severe probability x 100.",
}
IMRMC_SCORE_INCOMPLETE = (
    "Scores: binary answers (0 = not severe, 100 = severe): the study collects "
    "ratings but some reads have none, so no reader is scored by his rating. "
    "The AI's severe probability x 100."
)


def imrmc_comparisons(data: StudyData) -> tuple[list[ImrmcComparison], list[str]]:
    """One fully crossed data set per comparison iMRMC can analyse, and why others are not.

    - ``<tier>_unaided_vs_aided``: the tier's readers who read in both sessions, on the
      cases every one of them read in both (the paper's juniors alone vs with the AI).
    - ``ai_vs_<tier>_unaided`` (and ``ai_vs_panel_unaided`` over all tiers when there are
      several): the AI against the unaided readers, on the cases they and the AI all read.
      The AI is one fixed reader; its rating of each case is written under every reader's
      ID in modality ``ai``, so that the file is fully crossed and iMRMC's reader-averaged
      difference is the panel's mean AUC against the AI's AUC with no reader variability
      on the AI's side.
    A comparison is left out (with the reason) when fewer than 3 signal-absent or 3
    signal-present cases remain (iMRMC would drop every reader).
    """
    reads = data.reads.loc[:, ["reader", "tier", "modality", "case", "truth", "rating"]].copy()
    reads["reader"] = reads["reader"].astype(str)
    reads["case"] = reads["case"].astype(str)
    human = reads[reads["tier"] != "ai"]
    tiers = [str(t) for t in pd.unique(human["tier"].astype(str))]
    wanted: list[tuple[str, list[str], pd.DataFrame, int]] = []
    left_out: list[str] = []
    for tier in tiers:
        part = human[human["tier"] == tier]
        both = sorted(
            set(part.loc[part["modality"] == "unaided", "reader"])
            & set(part.loc[part["modality"] == "aided", "reader"])
        )
        if both:
            rows, dropped = _crossed(part, both, ["unaided", "aided"])
            description = [
                f"Comparison: {tier} readers unaided vs aided (modalities unaided, aided).",
                f"Readers: {len(both)} ({tier} readers who read in both sessions).",
            ]
            layout = _split_plot(part, both)
            if layout is not None:
                # A counterbalanced crossover: each reader read only his block's cases, so
                # no case is read by all; iMRMC's U-statistic variance (Gallas 2006) takes
                # such a split-plot layout as it is, with no missing-data imputation.
                rows, layout_text = layout
                dropped = int(part["case"].nunique() - rows["case"].nunique())
                description.append(f"Design: {layout_text}.")
            wanted.append((f"{tier}_unaided_vs_aided", description, rows, dropped))
    ai = reads[reads["tier"] == "ai"].drop_duplicates("case", keep="last")
    panels = [(tier, [tier]) for tier in tiers]
    if len(tiers) > 1:
        panels.append(("panel", tiers))
    if not ai.empty:
        for label, members in panels:
            part = human[human["tier"].isin(members) & (human["modality"] == "unaided")]
            readers = sorted(set(part["reader"]))
            if not readers:
                continue
            rows, dropped = _crossed(part, readers, ["unaided"])
            rows = rows[rows["case"].isin(set(ai["case"]))]
            dropped += int(len(set(part["case"])) - dropped - rows["case"].nunique())
            copies = [
                ai[ai["case"].isin(set(rows["case"]))].assign(reader=reader, modality="ai")
                for reader in readers
            ]
            wanted.append(
                (
                    f"ai_vs_{label}_unaided",
                    [
                        f"Comparison: the AI vs {' and '.join(members)} readers unaided "
                        "(modalities ai, unaided).",
                        f"Readers: {len(readers)}. The AI is one fixed reader: "
                        "its rating of each case is repeated "
                        f"under every reader ID in modality ai (reader {AI_READER}), "
                        "so the file is fully crossed "
                        "and the AI modality has no reader variability.",
                    ],
                    pd.concat([rows, *copies], ignore_index=True),
                    dropped,
                )
            )
    comparisons = []
    for name, description, rows, dropped in wanted:
        truth = rows.drop_duplicates("case")["truth"].astype(int)
        n0, n1 = int((truth == 0).sum()), int((truth == 1).sum())
        if min(n0, n1) < IMRMC_MIN_PER_CLASS:
            left_out.append(
                f"{name}: {n0} signal-absent and {n1} signal-present cases fully crossed; "
                f"iMRMC needs at least {IMRMC_MIN_PER_CLASS} of each"
            )
            continue
        frame = rows.loc[:, list(LONG_COLUMNS)].copy()
        frame["truth"] = frame["truth"].astype(int)
        frame = frame.sort_values(["modality", "reader", "case"], kind="mergesort").reset_index(
            drop=True
        )
        comparisons.append(
            ImrmcComparison(
                name,
                (
                    *description,
                    *_cases_lines(description, n0, n1, dropped),
                    IMRMC_SCORE_LINES.get(data.score_source, IMRMC_SCORE_INCOMPLETE),
                ),
                frame,
            )
        )
    return comparisons, left_out


def _split_plot(reads: pd.DataFrame, readers: list[str]) -> tuple[pd.DataFrame, str] | None:
    """The reads of ``readers`` in both sessions and their layout, if it is split-plot."""
    from analysis.stats.splitplot import split_plot_layout

    rows = reads[reads["reader"].isin(readers) & reads["modality"].isin(["unaided", "aided"])]
    rows = rows.drop_duplicates(["reader", "modality", "case"], keep="last")
    per = rows.groupby(["reader", "case"])["modality"].nunique()
    paired = per[per == 2].reset_index()[["reader", "case"]]
    rows = rows.merge(paired, on=["reader", "case"])
    if rows.empty:
        return None
    try:
        layout = split_plot_layout(rows)
    except ValueError:
        return None
    if layout.blocks < 2:
        return None
    return rows, layout.describe()


def _cases_lines(description: list[str], n0: int, n1: int, dropped: int) -> tuple[str, ...]:
    if any(line.startswith("Design: split-plot") for line in description):
        return (
            f"Cases: {n0 + n1}, each read by the readers of its block in both modalities "
            f"({n0} non-severe, {n1} severe); {dropped} left out for not being read in both.",
        )
    return (
        f"Cases: {n0 + n1} read by every reader in every modality of this file "
        f"({n0} non-severe, {n1} severe); {dropped} left out for not being read by all.",
        "Design: fully crossed (every reader rated every case in every modality).",
    )


def imrmc_zip(data: StudyData) -> bytes:
    """Every comparison's iMRMC file and a README of what each holds and what was left out."""
    comparisons, left_out = imrmc_comparisons(data)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for comparison in comparisons:
            archive.writestr(
                f"{comparison.name}.imrmc",
                to_imrmc(
                    comparison.frame,
                    title=data.title,
                    snapshot=data.snapshot,
                    description=comparison.description,
                ),
            )
        archive.writestr("README.txt", _imrmc_readme(comparisons, left_out, data))
    return buffer.getvalue()


def _imrmc_readme(comparisons: list[ImrmcComparison], left_out: list[str], data: StudyData) -> str:
    lines = [
        f"iMRMC input files of {data.title}, one per analysable comparison",
        f"Data snapshot (SHA-256): {data.snapshot}",
        "",
        "Run each with iMRMC 4 (DIDSR/iMRMC): MRMC FILE.imrmc OUTDIR "
        "(a display is needed: xvfb-run).",
        "",
    ]
    for comparison in comparisons:
        lines += [f"{comparison.name}.imrmc", *(f"  {line}" for line in comparison.description), ""]
    if left_out:
        lines += ["Left out:", *(f"  {reason}" for reason in left_out), ""]
    return "\n".join(lines)


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
                    {
                        "name": t.name,
                        "title": t.title,
                        "n": t.n,
                        "methods": t.methods,
                        "file": f"tables/{report.key}/{t.name}.csv",
                    }
                    for t in report.tables
                ],
                "figures": [
                    {
                        "name": f.name,
                        "title": f.title,
                        "file": f"figures/{report.key}_{f.name}.html",
                    }
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
                put(
                    f"figures/{report.key}_{figure.name}.html",
                    figure_html(figure.figure, figure.title),
                    figure.title,
                )
        put("tables/all_tables.xlsx", report_xlsx(chosen), "every table, one sheet each")
        long = long_format(data)
        put("data/reads_long.csv", long_format_csv(long), "all reads, long format")
        put(
            "data/reads.csv",
            reads_csv(data),
            "all reads with read times and workstation tool counts",
        )
        comparisons, left_out = imrmc_comparisons(data)
        for comparison in comparisons:
            put(
                f"data/imrmc/{comparison.name}.imrmc",
                to_imrmc(
                    comparison.frame,
                    title=data.title,
                    snapshot=data.snapshot,
                    description=comparison.description,
                ),
                "iMRMC input: " + " ".join(comparison.description),
            )
        put(
            "data/imrmc/README.txt",
            _imrmc_readme(comparisons, left_out, data),
            "what each iMRMC file holds, and the comparisons left out",
        )
        methods = "\n\n".join(
            f"{report.title}\n"
            + "\n".join(f"- {t.title} (n: {t.n}): {t.methods}" for t in report.tables)
            for report in chosen
        )
        put("METHODS.txt", methods + f"\n\nData snapshot (SHA-256): {data.snapshot}\n", "methods")
        archive.writestr(
            "manifest.json", json.dumps(manifest(chosen, data, files), indent=2, ensure_ascii=False)
        )
    return buffer.getvalue()
