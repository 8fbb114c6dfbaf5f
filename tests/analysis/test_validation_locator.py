"""A missing validation data set fails the statistics tests, naming every place looked in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.analysis.validation import validation_file


def test_a_missing_validation_file_fails_naming_the_paths(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FONTANELLE_VALIDATION_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError) as failure:
        validation_file("proc_asah", "no-such.csv")
    message = str(failure.value)
    assert "proc_asah/no-such.csv is missing" in message
    assert str(tmp_path / "proc_asah" / "no-such.csv") in message
    assert str(Path("shared") / "validation" / "proc_asah" / "no-such.csv") in message
    (tmp_path / "proc_asah").mkdir()
    (tmp_path / "proc_asah" / "aSAH.csv").write_text("x\n")
    assert validation_file("proc_asah", "aSAH.csv") == tmp_path / "proc_asah" / "aSAH.csv"
