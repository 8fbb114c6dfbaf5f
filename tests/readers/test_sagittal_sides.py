"""A case with a coronal sweep and a left and a right sagittal sweep, frames 850×648.

As a scanner gives them (issue 15): uploaded through the API and imported from a
manifest, the three sweeps reach the AI with their declared orientations, a junior
prepares from all three (the midsagittal view from either one-sided sweep), readers see
the three as canonical renditions, and a case may not mix both sagittal forms.
"""

from __future__ import annotations

import csv
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from core.video import read_frames
from inference import runner as ncls_runner
from inference import services as inference_services
from inference.services import model_version_register
from readers import selectors, services
from readers.models import Read, ReadingSession, SessionPhase
from readers.preparation import ImagePick, case_view_sweeps, material_build
from tests.media_factories import make_mp4, make_sweep_frames
from tests.readers.source_trial_setup import source_trial_study
from trials import media
from trials import services as trial_services
from trials.models import Asset, MaterialSource, StudyStatus
from trials.selectors import case_sweeps
from trials.services.allocation import allocation_generate
from trials.services.cases import case_import
from trials.services.renditions import local_path, rendition_make_for_asset

pytestmark = pytest.mark.django_db

WIDTH, HEIGHT, FRAMES = 850, 648, 8
SWEEPS = ("coronal", "sagittal_left", "sagittal_right")


@pytest.fixture(scope="module")
def sweep_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three small sweeps at a real machine's frame size (not the phantom's 640×480)."""
    out = tmp_path_factory.mktemp("lr-sweeps")
    return {
        o: make_mp4(out / f"DOE_{o}.mp4", make_sweep_frames(FRAMES, WIDTH, HEIGHT, seed=40 + k))
        for k, o in enumerate(SWEEPS)
    }


def _upload(api: APIClient, case: Any, path: Path, orientation: str) -> Any:
    with path.open("rb") as handle:
        upload = SimpleUploadedFile(path.name, handle.read(), content_type="video/mp4")
    return api.post(
        f"/api/studies/{case.study_id}/cases/{case.pk}/assets/",
        {"file": upload, "kind": "sweep_video", "orientation": orientation},
        format="multipart",
    )


def _frame(asset: Asset, index: int):
    with local_path(asset.file) as path:
        return read_frames(path, [index])[index]


class _RecordingPipeline:
    """Stands in for ``NclsPipeline``: records what stage 1 is given, picks fixed frames."""

    def __init__(self) -> None:
        self.calls: list[dict[str, str | None]] = []

    def run_videos(self, videos, *, out_dir, heatmaps, orientations):
        by_orientation = dict(zip(orientations, [Path(v) for v in videos], strict=True))
        self.calls.append({o: Path(v).name for o, v in zip(orientations, videos, strict=True)})

        def found(orientation: str, index: int) -> dict[str, Any]:
            return {
                "status": "found",
                "frame_index": index,
                "video": str(by_orientation[orientation]),
            }

        views = {
            "AHV": found("coronal", 1),
            "TVV": found("coronal", 3),
            "BV": found("coronal", 5),
            "MSV": found("sagittal_right", 2),
            "RPSV": found("sagittal_right", 6),
            "LPSV": found("sagittal_left", 4),
        }
        diagnosis = SimpleNamespace(
            severe_probability=0.7, severe=True, rule="case_head", image_labels={}
        )
        return SimpleNamespace(
            extraction={"views": views},
            diagnosis=diagnosis,
            heatmaps={},
            timings_s={"view_extraction": 0.0},
        )


def test_three_sweeps_through_the_api_reach_the_ai_the_junior_and_the_readers(
    tmp_path: Path, sweep_files: dict[str, Path], monkeypatch: Any, settings: Any
) -> None:
    setup = source_trial_study(prefix="lr", n_cases=0, ai=False)
    dataset = setup.study.datasets.get()
    case = trial_services.case_create(
        actor=setup.coordinator, dataset=dataset, code="LR-001", conditions=["normal"]
    )
    api = APIClient()
    api.force_authenticate(setup.coordinator)
    for orientation in SWEEPS:
        response = _upload(api, case, sweep_files[orientation], orientation)
        assert response.status_code == 201, response.content
        assert response.json()["orientation"] == orientation
        assert (response.json()["width"], response.json()["height"]) == (WIDTH, HEIGHT)
    # A sweep across both sides does not join one-sided ones: refused, and said why.
    refused = _upload(api, case, sweep_files["coronal"], "sagittal")
    assert refused.status_code == 400
    assert "either one sagittal sweep or a left and a right" in refused.json()["orientation"][0]
    assets = case_sweeps(case=case)
    assert sorted(assets) == sorted(SWEEPS)
    for asset in assets.values():
        rendition_make_for_asset(asset_id=asset.pk)

    # The AI: the runner hands stage 1 every sweep with its declared orientation.
    directory = tmp_path / "model"
    directory.mkdir()
    (directory / "fold0.safetensors").write_bytes(b"weights")
    model = model_version_register(
        actor=None, name="ncls", version="lr", profile="lite", directory=directory, is_demo=False
    )
    pipeline = _RecordingPipeline()
    monkeypatch.setattr(ncls_runner, "_pipeline", lambda model_dir: pipeline)
    settings.FONTANELLE_PIPELINE_RUNNER = "inference.runner.run_ncls_pipeline"
    result = inference_services.ai_case_build(case_id=case.pk, model_version_id=model.pk)
    assert result.status == "complete", result.error
    assert pipeline.calls == [{o: f"{o}.video" for o in SWEEPS}]
    ai = result.material_set
    assert ai is not None
    assert (
        media.render_view(_frame(assets["sagittal_left"], 4)).sha256
        == ai.renditions.get(view="LPSV").sha256
    )
    assert (
        media.render_view(_frame(assets["sagittal_right"], 2)).sha256
        == ai.renditions.get(view="MSV").sha256
    )

    # The junior prepares from all three sweeps, on the page.
    allocation_generate(
        actor=setup.coordinator, study=setup.study, juniors=setup.juniors, seniors=setup.seniors
    )
    services.session_create_for_design(actor=setup.coordinator, study=setup.study, seed=3)
    trial_services.study_transition(actor=setup.coordinator, study=setup.study, to="open")
    junior = setup.juniors[0]
    session = ReadingSession.objects.get(reader=junior, phase=SessionPhase.PREPARATION)
    client = Client()
    client.force_login(junior)
    assignment = services.session_next_assignment(session=session)
    assert assignment is not None
    page_url = client.get(reverse("readers:session", kwargs={"session_id": session.pk}))["Location"]
    page = client.get(page_url)
    assert page.status_code == 200
    body = page.content.decode()
    assert body.count("<video") == 3
    for orientation in SWEEPS:
        assert f'data-orientation="{orientation}"' in body
    assert 'name="sweep_MSV"' in body and 'data-pick-sweep="sagittal_left sagittal_right"' in body
    assert 'data-pick-sweep="sagittal_left"' in body and 'data-pick-sweep="sagittal_right"' in body

    picks = {"AHV": 1, "TVV": 2, "BV": None, "MSV": 3, "RPSV": 5, "LPSV": 6}
    post = {"initial_severe": "no", "client_event_id": str(uuid.uuid4())}
    for view, index in picks.items():
        post[f"frame_{view}" if index is not None else f"missing_{view}"] = (
            str(index + 1) if index is not None else "on"
        )
    unsaid = client.post(page_url, post)  # MSV's sweep not said: refused, nothing saved
    assert unsaid.status_code == 400 and "Say which sweep" in unsaid.content.decode()
    done = client.post(page_url, {**post, "sweep_MSV": "sagittal_left"})
    assert done.status_code == 302
    junior_set = ai.case.material_sets.get(source=MaterialSource.JUNIOR)
    expected = {
        "AHV": ("coronal", 1),
        "TVV": ("coronal", 2),
        "MSV": ("sagittal_left", 3),
        "RPSV": ("sagittal_right", 5),
        "LPSV": ("sagittal_left", 6),
    }
    for view, (orientation, index) in expected.items():
        rendition = junior_set.renditions.get(view=view)
        assert rendition.frame_index == index
        assert rendition.sha256 == media.render_view(_frame(assets[orientation], index)).sha256
    assert junior_set.renditions.get(view="BV").not_obtainable
    read = Read.objects.get(assignment=assignment)
    assert read.answer == {"picks": picks, "sweeps": {"MSV": "sagittal_left"}}

    # Readers see the three sweeps as canonical renditions, labelled by orientation only.
    slots = [s for s in selectors.assignment_slots(assignment=assignment) if s.group == "case"]
    assert [s.label for s in slots] == list(SWEEPS)
    renditions = [s.rendition for s in slots if s.rendition is not None]
    assert len(renditions) == len(slots)
    assert all(
        r.kind == "video" and r.status == "ready" and r.content_type == "video/mp4"
        for r in renditions
    )
    assert len({(r.width, r.height) for r in renditions}) == 1
    public = [s.as_public() for s in slots]
    assert all(str(a.pk) not in str(public) and "DOE_" not in str(public) for a in assets.values())


def test_the_midsagittal_view_of_one_sided_sweeps_comes_from_either_side(
    sweep_files: dict[str, Path],
) -> None:
    setup = source_trial_study(prefix="lr2", n_cases=0, ai=False)
    dataset = setup.study.datasets.get()
    case = trial_services.case_create(
        actor=setup.coordinator, dataset=dataset, code="LR-002", conditions=["normal"]
    )
    for orientation in SWEEPS:
        trial_services.asset_ingest(
            actor=setup.coordinator,
            case=case,
            path=sweep_files[orientation],
            kind="sweep_video",
            orientation=orientation,
        )
    assert case_view_sweeps(case) == {
        "AHV": ("coronal",),
        "TVV": ("coronal",),
        "BV": ("coronal",),
        "MSV": ("sagittal_left", "sagittal_right"),
        "RPSV": ("sagittal_right",),
        "LPSV": ("sagittal_left",),
    }
    junior = setup.juniors[0]
    with pytest.raises(ValidationError, match="Say which sweep the MSV frame is from"):
        material_build(
            actor=junior,
            case=case,
            source="junior",
            author=junior,
            initial_severe=False,
            picks={"MSV": 1},
        )
    with pytest.raises(ValidationError, match="not picked from the coronal sweep"):
        material_build(
            actor=junior,
            case=case,
            source="junior",
            author=junior,
            initial_severe=False,
            picks={"MSV": 1},
            sweeps={"MSV": "coronal"},
        )
    # An imported image of the right sweep's frame is found there without being told.
    right = case_sweeps(case=case)["sagittal_right"]
    material = material_build(
        actor=junior,
        case=case,
        source="junior",
        author=junior,
        initial_severe=False,
        picks={"MSV": ImagePick(_frame(right, 4)), "LPSV": 2},
    )
    assert material.renditions.get(view="MSV").frame_index == 4
    assert (
        material.renditions.get(view="LPSV").sha256
        == media.render_view(_frame(case_sweeps(case=case)["sagittal_left"], 2)).sha256
    )


def test_manifest_with_left_and_right_sagittal_columns(
    tmp_path: Path, sweep_files: dict[str, Path]
) -> None:
    setup = source_trial_study(prefix="lr3", n_cases=0, ai=False)
    folder = tmp_path / "archive"
    (folder / "media").mkdir(parents=True)
    for path in sweep_files.values():
        (folder / "media" / path.name).write_bytes(path.read_bytes())
    # The phantom's --sagittal-sweeps split columns: video_sagittal stays, empty.
    header = [
        "code",
        "dataset",
        "dataset_kind",
        "conditions",
        "video_coronal",
        "video_sagittal",
        "video_sagittal_left",
        "video_sagittal_right",
    ]
    base = {
        "dataset": "Imported",
        "dataset_kind": "internal",
        "conditions": "normal",
        "video_coronal": "media/DOE_coronal.mp4",
        "video_sagittal": "",
        "video_sagittal_left": "media/DOE_sagittal_left.mp4",
        "video_sagittal_right": "media/DOE_sagittal_right.mp4",
    }
    rows = [
        {"code": "LR-IMP-1", **base},
        {"code": "LR-IMP-2", **base, "video_sagittal": "media/DOE_coronal.mp4"},
    ]

    def manifest(rows: list[dict[str, str]]) -> Path:
        path = folder / "manifest.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        return path

    mixed = case_import(actor=setup.coordinator, study=setup.study, manifest=manifest(rows))
    assert [(p.row, p.column) for p in mixed.problems] == [(2, "video_sagittal")]
    assert "either one sagittal sweep or a left and a right" in mixed.problems[0].message
    report = case_import(
        actor=setup.coordinator, study=setup.study, manifest=manifest(rows[:1]), dry_run=False
    )
    assert report.ok and report.created_cases == 1 and report.created_assets == 3, report.problems
    case = setup.study.cases.get(code="LR-IMP-1")
    sweeps = case_sweeps(case=case)
    assert sorted(sweeps) == sorted(SWEEPS)
    assert {(a.width, a.height) for a in sweeps.values()} == {(WIDTH, HEIGHT)}
    assert setup.study.status == StudyStatus.DRAFT


def test_a_phantom_case_with_split_sagittal_sweeps_imports_as_three_sweeps(tmp_path: Path) -> None:
    from inference.phantom.cli import main as phantom

    out = tmp_path / "phantom"
    assert (
        phantom(
            [
                "generate",
                "--cases",
                "1",
                "--sagittal-sweeps",
                "split",
                "--frame-size",
                f"{WIDTH}x{HEIGHT}",
                "--frames-min",
                "12",
                "--frames-max",
                "12",
                "--dota-every",
                "0",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    setup = source_trial_study(prefix="lr4", n_cases=0, ai=False)
    report = case_import(
        actor=setup.coordinator, study=setup.study, manifest=out / "manifest.csv", dry_run=False
    )
    assert report.ok, report.problems
    case = setup.study.cases.get()
    sweeps = case_sweeps(case=case)
    assert sorted(sweeps) == sorted(SWEEPS)
    assert {(a.width, a.height) for a in sweeps.values()} == {(WIDTH, HEIGHT)}
    assert case.assets.filter(kind="view_image").count() == 6
