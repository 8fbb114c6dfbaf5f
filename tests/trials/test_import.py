"""Manifest import: dry run reports every problem and writes nothing; import is all-or-nothing."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests.trials.conftest import manifest_row, stored_files, write_manifest, zip_bytes
from trials import services
from trials.models import Asset, AuditEvent, Case, Dataset, Rendition, RenditionStatus

pytestmark = pytest.mark.django_db


def _bad_rows() -> list[dict[str, str]]:
    return [
        manifest_row("OK-1"),
        manifest_row("", ga_weeks="thirty"),  # row 2: code, ga_weeks
        manifest_row("BAD-3", conditions="ivh", ivh_grade=""),  # row 3: conditions
        manifest_row("BAD-4", sex="X", ga_days="9"),  # row 4: sex, ga_days
        manifest_row("BAD-5", video_coronal="missing.mp4"),  # row 5: video_coronal
        manifest_row("BAD-6", view_AHV="notes.txt"),  # row 6: view_AHV (wrong type)
        manifest_row("OK-1"),  # row 7: duplicate code
        manifest_row("BAD-8", excluded="1"),  # row 8: exclusion_reason
        manifest_row("BAD-9", video_sagittal="../escape.mp4"),  # row 9: path leaves the folder
        manifest_row("BAD-10", dataset_kind="training"),  # row 10: dataset_kind
    ]


EXPECTED_PROBLEMS = {
    (2, "code"),
    (2, "ga_weeks"),
    (3, "conditions"),
    (4, "sex"),
    (4, "ga_days"),
    (5, "video_coronal"),
    (6, "view_AHV"),
    (7, "code"),
    (8, "exclusion_reason"),
    (9, "video_sagittal"),
    (10, "dataset_kind"),
}


def _folder_with_bad_manifest(tmp_path: Path) -> Path:
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "notes.txt").write_text("not an image")
    (tmp_path / "escape.mp4").write_bytes(b"x")
    return write_manifest(folder, _bad_rows())


def test_dry_run_reports_every_problem_with_row_and_column(
    study: Any, coordinator: Any, tmp_path: Path, media_root: Path
) -> None:
    manifest = _folder_with_bad_manifest(tmp_path)
    before = AuditEvent.objects.count()
    report = services.case_import(actor=coordinator, study=study, manifest=manifest, dry_run=True)
    assert not report.ok
    assert report.rows == 10
    assert {(p.row, p.column) for p in report.problems} == EXPECTED_PROBLEMS
    assert all(p.message for p in report.problems)
    assert Case.objects.count() == 0
    assert AuditEvent.objects.count() == before
    assert stored_files(media_root) == []


def test_one_bad_row_means_zero_cases(
    study: Any, coordinator: Any, tmp_path: Path, media_root: Path
) -> None:
    manifest = _folder_with_bad_manifest(tmp_path)
    report = services.case_import(actor=coordinator, study=study, manifest=manifest, dry_run=False)
    assert not report.ok
    assert report.created_cases == 0
    assert Case.objects.count() == Asset.objects.count() == 0
    assert stored_files(media_root) == []


def test_clean_import_creates_cases_assets_and_renditions(
    study: Any,
    coordinator: Any,
    tmp_path: Path,
    media_samples: dict[str, Path],
    django_capture_on_commit_callbacks: Any,
) -> None:
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "cor.mp4").write_bytes(media_samples["mp4"].read_bytes())
    (folder / "ahv.jpg").write_bytes(media_samples["jpeg"].read_bytes())
    rows = [
        manifest_row("N-1", video_coronal="cor.mp4", view_AHV="ahv.jpg"),
        manifest_row(
            "N-2",
            dataset="External",
            dataset_kind="external",
            site="Hospital B",
            conditions="ivh;ventricular_dilation",
            ivh_grade="4",
        ),
        manifest_row("N-3", excluded="1", exclusion_reason="blind sweep unreadable"),
    ]
    manifest = write_manifest(folder, rows)
    dry = services.case_import(actor=coordinator, study=study, manifest=manifest, dry_run=True)
    assert dry.ok and dry.dry_run and dry.rows == 3 and Case.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        report = services.case_import(
            actor=coordinator, study=study, manifest=manifest, dry_run=False
        )
    assert report.ok and not report.dry_run
    assert (report.created_cases, report.created_assets) == (3, 2)
    assert Case.objects.get(code="N-2").gold_standard.severe is True
    assert Case.objects.get(code="N-3").excluded
    assert Dataset.objects.filter(name="External", site__name="Hospital B").exists()
    assert set(Rendition.objects.values_list("status", flat=True)) == {RenditionStatus.READY}
    assert AuditEvent.objects.filter(action="cases.imported").count() == 1
    # Importing the same manifest again: every row is a duplicate, nothing changes.
    again = services.case_import(actor=coordinator, study=study, manifest=manifest, dry_run=False)
    assert {(p.row, p.column) for p in again.problems} == {(1, "code"), (2, "code"), (3, "code")}
    assert Case.objects.count() == 3


def test_a_failure_during_the_write_rolls_back_everything(
    study: Any,
    coordinator: Any,
    tmp_path: Path,
    media_samples: dict[str, Path],
    media_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "ahv.png").write_bytes(media_samples["png"].read_bytes())
    manifest = write_manifest(
        folder, [manifest_row(f"R-{i}", view_AHV="ahv.png") for i in range(3)]
    )
    # the import calls asset_ingest from its own module
    from trials.services.cases import importer

    real = importer.asset_ingest
    calls = {"n": 0}

    def failing(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(importer, "asset_ingest", failing)
    with pytest.raises(RuntimeError):
        services.case_import(actor=coordinator, study=study, manifest=manifest, dry_run=False)
    assert Case.objects.count() == Asset.objects.count() == 0
    assert stored_files(media_root) == []


def test_manifest_header_problems(study: Any, coordinator: Any, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, [{"code": "A", "colour": "red"}], header=["code", "colour"])
    report = services.case_import(actor=coordinator, study=study, manifest=manifest)
    columns = {p.column for p in report.problems}
    assert {"dataset", "dataset_kind", "conditions", "colour"} <= columns
    empty = write_manifest(tmp_path / "empty", [])
    assert any(
        "no rows" in p.message
        for p in services.case_import(actor=coordinator, study=study, manifest=empty).problems
    )


# --- through the API and the page -----------------------------------------------------------


def test_api_import_dry_run_then_import(
    study: Any, coordinator: Any, case_archive: Any, django_capture_on_commit_callbacks: Any
) -> None:
    api = APIClient()
    api.force_authenticate(coordinator)
    url = f"/api/studies/{study.pk}/import/"
    archive = case_archive(2)
    response = api.post(
        url, {"archive": SimpleUploadedFile("cases.zip", archive)}, format="multipart"
    )
    assert response.status_code == 200, response.content
    assert response.json()["dry_run"] is True and Case.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            url,
            {"archive": SimpleUploadedFile("cases.zip", archive), "dry_run": False},
            format="multipart",
        )
    assert response.status_code == 200, response.content
    assert response.json()["created_cases"] == 2 and response.json()["created_assets"] == 8
    assert Rendition.objects.filter(status=RenditionStatus.READY).count() == 8


def test_api_import_problems_are_400_with_rows(
    study: Any, coordinator: Any, case_archive: Any, media_root: Path
) -> None:
    api = APIClient()
    api.force_authenticate(coordinator)
    archive = case_archive(1, extra_rows=[manifest_row("BAD", ga_weeks="99")])
    response = api.post(
        f"/api/studies/{study.pk}/import/",
        {"archive": SimpleUploadedFile("cases.zip", archive), "dry_run": False},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["problems"] == [
        {"row": 2, "column": "ga_weeks", "message": "must be 20–45"}
    ]
    assert Case.objects.count() == 0 and stored_files(media_root) == []


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not a zip at all", "not a ZIP"),
        (_zip({"readme.txt": b"hello"}), "no manifest.csv"),
        (_zip({"manifest.csv": b"code\n", "../../evil.txt": b"x"}), "outside"),
        (_zip({"manifest.csv": b"code\n"})[:-30], "ZIP"),
    ],
    ids=["not-zip", "no-manifest", "zip-slip", "damaged"],
)
def test_bad_archives_are_refused(
    study: Any, coordinator: Any, content: bytes, expected: str
) -> None:
    api = APIClient()
    api.force_authenticate(coordinator)
    response = api.post(
        f"/api/studies/{study.pk}/import/",
        {"archive": SimpleUploadedFile("x.zip", content)},
        format="multipart",
    )
    assert response.status_code == 400
    assert expected in str(response.json())


def test_import_page_renders_the_problem_report(
    client: Any, study: Any, coordinator: Any, media_samples: dict[str, Path]
) -> None:
    client.force_login(coordinator)
    archive = zip_bytes(
        [
            manifest_row("P-1"),
            manifest_row("P-2", sex="Q"),
            manifest_row("P-3", view_AHV="gone.png"),
        ],
        {},
    )
    response = client.post(
        f"/studies/{study.pk}/import/",
        {"archive": SimpleUploadedFile("cases.zip", archive), "dry_run": "on"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="problems"' in html
    assert "<td>2</td><td>sex</td>" in html
    assert "<td>3</td><td>view_AHV</td>" in html
    assert "file not found: gone.png" in html
    assert Case.objects.count() == 0


def test_import_page_imports(
    client: Any,
    study: Any,
    coordinator: Any,
    case_archive: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client.force_login(coordinator)
    page = client.get(f"/studies/{study.pk}/import/")
    assert page.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/studies/{study.pk}/import/",
            {"archive": SimpleUploadedFile("c.zip", case_archive(1))},
        )
    assert response.status_code == 200, response.content.decode()[-2000:]
    assert "Imported" in response.content.decode()
    case = Case.objects.get()
    page = client.get(f"/cases/{case.pk}/")
    html = page.content.decode()
    renditions = Rendition.objects.filter(case=case)
    assert renditions.count() == 4
    for rendition in renditions:
        assert rendition.status == RenditionStatus.READY
        assert f"/renditions/{rendition.pk}/" in html
        served = client.get(f"/renditions/{rendition.pk}/")
        assert served.status_code == 200
        assert served["Content-Type"] == rendition.content_type
    assert "<video" in html and "<img" in html
