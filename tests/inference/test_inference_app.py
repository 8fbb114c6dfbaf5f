"""The inference app: model registry, AI runs and the AI material they build."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from inference import runs, services
from inference.models import AICaseResult, ResultStatus
from inference.selectors import ai_predictions, run_progress
from inference.services import CaseAIOutput, model_version_register, model_version_verify
from inference.tasks import build_ai_material
from tests.media_factories import make_fan_frame, make_mp4, make_sweep_frames
from trials import services as trial_services
from trials.models import AssetKind, MaterialSet, MaterialSource, Rendition, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "models"
    directory.mkdir()
    (directory / "fold0.safetensors").write_bytes(b"not really weights")
    (directory / "fold0.json").write_text(json.dumps({"metrics": {"auc": 0.97}}))
    return directory


@pytest.fixture
def fake_runner(settings):
    """A pipeline that 'finds' four views and is severe for cases whose code ends in 1."""
    calls: list[dict[str, Path]] = []

    def run(model_dir: Path, videos: dict[str, Path]) -> CaseAIOutput:
        calls.append(videos)
        frame = make_fan_frame(400, 300, overlays=True, seed=len(calls))
        return CaseAIOutput(
            views={
                "AHV": (frame, 3),
                "TVV": (frame, 7),
                "BV": (frame, 12),
                "MSV": (frame, 4),
                "RPSV": None,
                "LPSV": None,
            },
            missing_reasons={
                "RPSV": "no parasagittal cluster right of the midline",
                "LPSV": "no frames",
            },
            severe_probability=0.8 if len(calls) % 2 else 0.05,
            severe=bool(len(calls) % 2),
            rule="case_head",
            image_labels={"AHV": {"labels": ["normal"]}},
            heatmaps={"AHV": frame},
            timings={"detection": 0.1, "diagnosis": 0.05},
        )

    settings.FONTANELLE_PIPELINE_RUNNER = run
    return calls


@pytest.fixture
def study_with_cases(django_user_model, tmp_path):
    coordinator = django_user_model.objects.create_user("coord", password="x-long-password-1")
    study = trial_services.study_create(actor=coordinator, title="AI study", design="standalone")
    dataset = trial_services.dataset_create(
        actor=coordinator, study=study, name="Internal", kind="internal"
    )
    video = make_mp4(tmp_path / "sweep.mp4", make_sweep_frames(6, 320, 256))
    cases = []
    for index in range(3):
        case = trial_services.case_create(
            actor=coordinator, dataset=dataset, code=f"K{index}", conditions=["normal"]
        )
        trial_services.asset_ingest(
            actor=coordinator,
            case=case,
            path=video,
            kind=AssetKind.SWEEP_VIDEO,
            orientation="coronal",
        )
        cases.append(case)
    return coordinator, study, dataset, cases


def test_register_records_sha256_and_metrics(model_dir):
    model = model_version_register(
        actor=None, name="ncls", version="1", profile="lite", directory=model_dir, is_demo=True
    )
    paths = {f["path"] for f in model.files}
    assert paths == {"fold0.safetensors", "fold0.json"}
    assert model.metrics == {"fold0.json": {"auc": 0.97}}
    assert model_version_verify(model_version=model).resolve() == model_dir.resolve()


def test_verify_refuses_a_changed_checkpoint(model_dir):
    model = model_version_register(
        actor=None, name="ncls", version="1", profile="lite", directory=model_dir, is_demo=False
    )
    (model_dir / "fold0.safetensors").write_bytes(b"tampered")
    with pytest.raises(ValidationError, match="changed since registration"):
        model_version_verify(model_version=model)


def test_register_refuses_an_unreadable_json(model_dir):
    (model_dir / "fold1.json").write_text("{not json")
    with pytest.raises(ValidationError, match=r"fold1\.json"):
        model_version_register(
            actor=None, name="ncls", version="1", profile="lite", directory=model_dir, is_demo=True
        )


def test_register_refuses_a_directory_without_checkpoint(tmp_path):
    with pytest.raises(ValidationError):
        model_version_register(
            actor=None, name="x", version="1", profile="lite", directory=tmp_path, is_demo=False
        )


def test_run_builds_one_complete_ai_material_set_per_case(
    study_with_cases, model_dir, fake_runner, django_capture_on_commit_callbacks
):
    coordinator, study, dataset, cases = study_with_cases
    model = model_version_register(
        actor=None, name="ncls", version="1", profile="lite", directory=model_dir, is_demo=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        run = runs.ai_run_start(
            actor=coordinator, study=study, dataset=dataset, model_version=model
        )
    progress = run_progress(run=run)
    assert (progress.total, progress.complete, progress.failed) == (3, 3, 0)
    sets = MaterialSet.objects.filter(case__study=study, source=MaterialSource.AI)
    assert sets.count() == 3
    for material in sets:
        renditions = {r.view: r for r in material.renditions.all()}
        assert set(renditions) == {"AHV", "TVV", "BV", "MSV", "RPSV", "LPSV"}
        assert renditions["RPSV"].not_obtainable and not renditions["AHV"].not_obtainable
        assert renditions["AHV"].status == "ready" and renditions["AHV"].content_type == "image/png"
    result = AICaseResult.objects.get(case=cases[0], model_version=model)
    assert result.views["RPSV"] == {"missing": "no parasagittal cluster right of the midline"}
    assert result.heatmaps.count() == 1


def test_task_is_idempotent(study_with_cases, model_dir, fake_runner):
    _, _study, _, cases = study_with_cases
    model = model_version_register(
        actor=None, name="ncls", version="1", profile="lite", directory=model_dir, is_demo=False
    )
    for _ in range(2):
        build_ai_material(case_id=str(cases[0].pk), model_version_id=str(model.pk))
    assert MaterialSet.objects.filter(case=cases[0], source=MaterialSource.AI).count() == 1
    assert len(fake_runner) == 1  # the second run found the complete result and did nothing


def test_failure_is_recorded_with_its_reason_and_retried(
    study_with_cases, model_dir, fake_runner, settings
):
    _, _study, _, cases = study_with_cases
    model = model_version_register(
        actor=None, name="ncls", version="1", profile="lite", directory=model_dir, is_demo=False
    )

    def broken(model_dir, videos):
        raise ValueError("video could not be decoded")

    settings.FONTANELLE_PIPELINE_RUNNER = broken
    result = services.ai_case_build(case_id=cases[1].pk, model_version_id=model.pk)
    assert result.status == ResultStatus.FAILED and "decoded" in result.error
    assert not MaterialSet.objects.filter(case=cases[1]).exists()
    # The retry (with a working pipeline) completes the case.
    settings.FONTANELLE_PIPELINE_RUNNER = lambda d, v: CaseAIOutput(
        views={"AHV": (np.full((200, 300, 3), 90, np.uint8), 1)},
        missing_reasons={},
        severe_probability=0.1,
        severe=False,
        rule="case_head",
        image_labels={},
    )
    result = services.ai_case_build(case_id=cases[1].pk, model_version_id=model.pk)
    assert result.status == ResultStatus.COMPLETE
    assert MaterialSet.objects.filter(case=cases[1], source="ai").count() == 1


def test_ai_predictions_give_the_ai_as_one_more_reader(study_with_cases, model_dir, fake_runner):
    _, study, _, cases = study_with_cases
    model = model_version_register(
        actor=None, name="ncls", version="1", profile="lite", directory=model_dir, is_demo=False
    )
    for case in cases:
        build_ai_material(case_id=str(case.pk), model_version_id=str(model.pk))
    rows = ai_predictions(study=study)
    assert [r["case_id"] for r in rows] == [c.pk for c in cases]
    assert all(0 <= r["probability"] <= 1 for r in rows)


def test_run_page_and_api_show_progress_only_to_coordinators(
    client,
    django_user_model,
    study_with_cases,
    model_dir,
    fake_runner,
    django_capture_on_commit_callbacks,
):
    coordinator, study, dataset, _ = study_with_cases
    model = model_version_register(
        actor=None, name="ncls", version="1", profile="lite", directory=model_dir, is_demo=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        run = runs.ai_run_start(
            actor=coordinator, study=study, dataset=dataset, model_version=model
        )
    client.force_login(coordinator)
    page = client.get(reverse("inference:run", args=[run.pk]))
    assert page.status_code == 200
    assert b"demo model" in page.content.lower()
    body = client.get(reverse("inference:api-run", args=[run.pk])).json()
    assert (body["total"], body["complete"], body["finished"]) == (3, 3, True)
    outsider = django_user_model.objects.create_user("outsider", password="x-long-password-2")
    other = trial_services.study_create(actor=outsider, title="Other", design="standalone")
    trial_services.membership_add(actor=outsider, study=other, user=outsider, role=Role.COORDINATOR)
    client.force_login(outsider)
    assert client.get(reverse("inference:run", args=[run.pk])).status_code == 404
    assert client.get(reverse("inference:api-run", args=[run.pk])).status_code == 404


def test_ai_renditions_match_human_renditions_in_format(
    study_with_cases, model_dir, fake_runner, tmp_path, django_capture_on_commit_callbacks
):
    """Blinding: an AI view and an uploaded view come out in the same format and size."""
    coordinator, _study, _, cases = study_with_cases
    model = model_version_register(
        actor=None, name="ncls", version="1", profile="lite", directory=model_dir, is_demo=False
    )
    build_ai_material(case_id=str(cases[0].pk), model_version_id=str(model.pk))
    from tests.media_factories import make_png

    png = make_png(tmp_path / "view.png", make_fan_frame(850, 648, overlays=True, seed=9))
    with django_capture_on_commit_callbacks(execute=True):
        trial_services.asset_ingest(
            actor=coordinator, case=cases[0], path=png, kind=AssetKind.VIEW_IMAGE, view="AHV"
        )
    ai = Rendition.objects.get(
        material_set__source="ai", view="AHV", case=cases[0], purpose="material_view"
    )
    human = Rendition.objects.get(asset__kind=AssetKind.VIEW_IMAGE, case=cases[0])
    assert (ai.content_type, ai.width, ai.height) == (human.content_type, human.width, human.height)


def test_heatmaps_reach_the_readers_hook_as_renditions(study_with_cases, model_dir, fake_runner):
    """The aided workstation gets the AI's heatmaps through readers' hook, never a human set's."""
    from readers.phases import heatmaps_for_material

    _, _, _, cases = study_with_cases
    model = model_version_register(
        actor=None, name="ncls", version="1", profile="lite", directory=model_dir, is_demo=False
    )
    result = services.ai_case_build(case_id=cases[0].pk, model_version_id=model.pk)
    heatmaps = heatmaps_for_material(result.material_set)
    assert [h.view for h in heatmaps] == ["AHV"]
    assert heatmaps[0].status == "ready" and heatmaps[0].file
    human = MaterialSet.objects.create(
        case=cases[0], source=MaterialSource.JUNIOR, author_model_label="import"
    )
    assert heatmaps_for_material(human) == []
