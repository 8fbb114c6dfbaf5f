"""A small reader of gettext PO files (the committed catalogs), enough for the tests."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Entry:
    msgid: str
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    references: list[str] = field(default_factory=list)
    obsolete: bool = False

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)

    @property
    def translated(self) -> bool:
        return "fuzzy" not in self.flags and bool(self.msgstr) and all(self.msgstr.values())


_LINE = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[(\d+)\])?) (".*")$')


def read_po(path: Path) -> list[Entry]:
    """Every entry but the header, in file order."""
    entries: list[Entry] = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry = Entry(msgid="")
        last: tuple[str, int] | None = None
        seen_msgid = False
        for raw in block.splitlines():
            line = raw
            if line.startswith("#~"):
                entry.obsolete = True
                line = line[2:].lstrip()
            if line.startswith("#,"):
                entry.flags.update(f.strip() for f in line[2:].split(","))
                continue
            if line.startswith("#:"):
                entry.references.extend(line[2:].split())
                continue
            if line.startswith("#"):
                continue
            match = _LINE.match(line)
            if match:
                keyword, index, literal = (
                    match.group(1),
                    match.group(2),
                    ast.literal_eval(match.group(3)),
                )
                if keyword == "msgid":
                    entry.msgid, last, seen_msgid = literal, ("msgid", 0), True
                elif keyword == "msgctxt":
                    entry.msgctxt, last = literal, ("msgctxt", 0)
                elif keyword == "msgid_plural":
                    entry.msgid_plural, last = literal, ("msgid_plural", 0)
                else:
                    n = int(index) if index is not None else 0
                    entry.msgstr[n], last = literal, ("msgstr", n)
            elif line.startswith('"') and last is not None:
                more = ast.literal_eval(line)
                kind, n = last
                if kind == "msgstr":
                    entry.msgstr[n] += more
                else:
                    setattr(entry, kind, (getattr(entry, kind) or "") + more)
        if seen_msgid and entry.msgid:
            entries.append(entry)
    return entries
