"""One way to swap the NCLS pipeline (the setting, resolved per call); the demo stand-in apart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from inference import demo, services
from inference.checks import check_pipeline_runner
from inference.models import AICaseResult, ResultStatus
from inference.services import CaseAIOutput, model_version_register
from tests.inference import fake_pipeline
from tests.readers.factories import CaseFactory, DatasetFactory, StudyFactory
from tests.readers.source_trial_setup import FRAMES, sweep_asset_make
from trials.models import MaterialSet, MaterialSource, StudyStatus


def test_the_setting_is_resolved_at_each_call(settings) -> None:
    settings.FONTANELLE_PIPELINE_RUNNER = "tests.inference.fake_pipeline.run"
    assert services.pipeline_runner() is fake_pipeline.run

    def other(model_dir: Path, videos: dict[str, Path]) -> CaseAIOutput:
        raise AssertionError("not called")

    settings.FONTANELLE_PIPELINE_RUNNER = other
    assert services.pipeline_runner() is other


def test_the_default_is_the_ncls_runner() -> None:
    from inference.runner import run_ncls_pipeline

    assert services.pipeline_runner() is run_ncls_pipeline
    assert not hasattr(services, "set_pipeline_runner")  # no second, module-global way


@pytest.mark.parametrize(
    ("module", "demo_code"),
    [
        ("inference.demo", True),
        ("readers.demo", True),
        ("inference.ncls.diagnosis.demo", True),
        ("analysis.demo_build", True),
        ("trials.demographics", False),
        ("inference.runner", False),
        ("tests.inference.fake_pipeline", False),
    ],
)
def test_demo_modules_are_recognised(module: str, demo_code: bool) -> None:
    assert services.is_demo_module(module) is demo_code


def test_a_runner_from_demo_code_is_refused_by_the_resolver_and_the_check(settings) -> None:
    settings.FONTANELLE_PIPELINE_RUNNER = "inference.demo.standin_output"
    with pytest.raises(ImproperlyConfigured, match="demo code"):
        services.pipeline_runner()
    assert [e.id for e in check_pipeline_runner(None)] == ["fontanelle.E011"]
    # The check is registered: manage.py check (and every command that runs checks) fails.
    assert "fontanelle.E011" in [e.id for e in run_checks()]
    # A closure made in demo code is refused too, whatever the setting's form.
    settings.FONTANELLE_PIPELINE_RUNNER = demo.standin_output
    with pytest.raises(ImproperlyConfigured, match="demo code"):
        services.pipeline_runner()


@pytest.mark.parametrize(
    ("configured", "error"),
    [
        ("inference.no_such_module.run", "fontanelle.E012"),
        ("run_ncls_pipeline", "fontanelle.E010"),
    ],
)
def test_a_runner_that_cannot_be_found_is_refused(settings, configured: str, error: str) -> None:
    settings.FONTANELLE_PIPELINE_RUNNER = configured
    with pytest.raises(ImproperlyConfigured):
        services.pipeline_runner()
    assert [e.id for e in check_pipeline_runner(None)] == [error]


def test_the_configured_runner_passes_the_check(settings) -> None:
    assert check_pipeline_runner(None) == []
    settings.FONTANELLE_PIPELINE_RUNNER = "tests.inference.fake_pipeline.run"
    assert check_pipeline_runner(None) == []


@pytest.fixture
def phantom_case(tmp_path: Path):
    """A case with a coronal and a sagittal sweep, and a phantom truth file for it."""
    study = StudyFactory(status=StudyStatus.DRAFT, is_demo=True)
    dataset = DatasetFactory(study=study, kind="internal")
    case = CaseFactory(dataset=dataset, study=study, code="PH-001")
    sweep_asset_make(case, "coronal", seed=1)
    sweep_asset_make(case, "sagittal", seed=2)
    truth = {
        "severe": True,
        "videos": {
            "coronal": {
                "n_frames": FRAMES,
                "ideal_frames": {"AHV": 1, "TVV": 3, "BV": 6},
                "expected_ranges": {"AHV": [0, 2], "TVV": [2, 4], "BV": [5, 7]},
            },
            "sagittal": {
                "n_frames": FRAMES,
                "ideal_frames": {"MSV": 4, "RPSV": 2},
                "expected_ranges": {"MSV": [4, 4], "RPSV": [1, 3]},
            },
        },
    }
    phantom_dir = tmp_path / "internal"
    (phantom_dir / "truth").mkdir(parents=True)
    (phantom_dir / "truth" / "PH-001.json").write_text(json.dumps(truth))
    return study, case, truth, phantom_dir


@pytest.mark.django_db
def test_the_demo_stand_in_stores_material_without_being_a_pipeline(phantom_case) -> None:
    study, case, truth, phantom_dir = phantom_case
    assert demo.standin_ai_material(study=study, phantom_dirs={"internal": phantom_dir}) == 1
    result = AICaseResult.objects.get(case=case)
    assert result.status == ResultStatus.COMPLETE and result.rule == "stand-in"
    assert result.model_version.name == demo.STANDIN_NAME and result.model_version.is_demo
    for orientation, sweep in truth["videos"].items():
        for view, (low, high) in sweep["expected_ranges"].items():
            index = result.views[view]["frame_index"]
            assert low <= index <= high, (orientation, view, index)
    assert result.views["LPSV"] == {"missing": "not found"}
    material = result.material_set
    assert material is not None and material.source == MaterialSource.AI
    assert set(material.renditions.values_list("view", flat=True)) >= {"AHV", "TVV", "MSV"}
    # Idempotent: a second build stores nothing more.
    assert demo.standin_ai_material(study=study, phantom_dirs={"internal": phantom_dir}) == 0
    assert MaterialSet.objects.filter(case=case, source=MaterialSource.AI).count() == 1


@pytest.mark.django_db
def test_production_code_cannot_run_the_stand_in(phantom_case, settings, tmp_path: Path) -> None:
    _study, case, _truth, _phantom_dir = phantom_case
    directory = tmp_path / "model"
    directory.mkdir()
    (directory / "fold0.safetensors").write_bytes(b"weights")
    model = model_version_register(
        actor=None, name="ncls", version="1", profile="lite", directory=directory, is_demo=False
    )
    settings.FONTANELLE_PIPELINE_RUNNER = "inference.demo.standin_output"
    with pytest.raises(ImproperlyConfigured):
        services.ai_case_build(case_id=case.pk, model_version_id=model.pk)
    assert not AICaseResult.objects.filter(case=case).exists()
    assert not MaterialSet.objects.filter(case=case).exists()
