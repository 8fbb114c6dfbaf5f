"""The AI and the juniors work from the same sweep of each orientation."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from inference import services as inference_services
from inference.services import CaseAIOutput, model_version_register
from readers.preparation import sweep_asset
from tests.readers.factories import CaseFactory, DatasetFactory, StudyFactory
from tests.readers.source_trial_setup import sweep_asset_make
from trials.models import StudyStatus
from trials.selectors import case_sweeps

pytestmark = pytest.mark.django_db


def test_ai_and_junior_material_come_from_the_same_sweep(tmp_path: Path, settings) -> None:
    study = StudyFactory(status=StudyStatus.DRAFT)
    case = CaseFactory(dataset=DatasetFactory(study=study), study=study, code="SWEEPS-1")
    first_coronal = sweep_asset_make(case, "coronal", seed=1)
    time.sleep(0.01)
    sagittal = sweep_asset_make(case, "sagittal", seed=2)
    time.sleep(0.01)
    second_coronal = sweep_asset_make(case, "coronal", seed=3)  # a repeat sweep, uploaded later
    assert first_coronal.sha256 == second_coronal.sha256 == "0" * 64  # the factory's placeholder
    digests = {}
    for asset in (first_coronal, second_coronal, sagittal):
        with asset.file.open("rb") as handle:
            digests[asset.pk] = hashlib.sha256(handle.read()).hexdigest()
    assert digests[first_coronal.pk] != digests[second_coronal.pk]

    chosen = case_sweeps(case=case)
    assert {o: a.pk for o, a in chosen.items()} == {
        "coronal": first_coronal.pk,
        "sagittal": sagittal.pk,
    }
    # The junior's preparation picks frames from the chosen sweeps...
    coronal_asset, sagittal_asset = sweep_asset(case, "coronal"), sweep_asset(case, "sagittal")
    assert coronal_asset is not None and coronal_asset.pk == first_coronal.pk
    assert sagittal_asset is not None and sagittal_asset.pk == sagittal.pk

    # ...and so does the AI.
    directory = tmp_path / "model"
    directory.mkdir()
    (directory / "fold0.safetensors").write_bytes(b"weights")
    model = model_version_register(
        actor=None,
        name="ncls",
        version="sweeps",
        profile="lite",
        directory=directory,
        is_demo=False,
    )
    seen: dict[str, str] = {}

    def run(model_dir: Path, videos: dict[str, Path]) -> CaseAIOutput:
        seen.update({o: hashlib.sha256(p.read_bytes()).hexdigest() for o, p in videos.items()})
        return CaseAIOutput(
            views={"AHV": None},
            missing_reasons={"AHV": "none"},
            severe_probability=0.2,
            severe=False,
            rule="case_head",
            image_labels={},
        )

    settings.FONTANELLE_PIPELINE_RUNNER = run
    result = inference_services.ai_case_build(case_id=case.pk, model_version_id=model.pk)
    assert result.status == "complete", result.error
    assert seen == {"coronal": digests[first_coronal.pk], "sagittal": digests[sagittal.pk]}
