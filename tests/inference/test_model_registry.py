"""Any model registered for real use: register_model, the models page and API, verification,
and the refusal to run a model whose files no longer match their SHA-256."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import ProtectedError
from django.test import Client
from django.urls import reverse

from inference import registry, runs
from inference.demo import DEMO_MODEL_DIR
from inference.models import (
    AICaseResult,
    AIRun,
    ChecksumMismatch,
    ModelVersion,
    Provenance,
    ResultStatus,
)
from inference.registry import (
    DETECTOR_FORMAT,
    DIAGNOSIS_FORMAT,
    MODEL_VERIFIED,
    PUBLISHED_FORMAT,
    PUBLISHED_RECORD,
    DuplicateModel,
    ModelDirectoryError,
    can_manage_models,
    inspect_model_dir,
    model_register,
    model_require_intact,
    model_verify,
)
from inference.services import CaseAIOutput
from inference.tasks import build_ai_material
from tests.media_factories import make_fan_frame, make_mp4, make_sweep_frames
from tests.trials.factories import MembershipFactory, StudyFactory, UserFactory
from trials import services as trial_services
from trials.models import AssetKind, AuditAction, AuditEvent, MaterialSet, MaterialSource, Role

pytestmark = pytest.mark.django_db

TRAIN_DIAGNOSIS = (
    "python -m inference.ncls train-diagnosis --data /data/cus --out DIR --profile full"
)
TRAIN_DETECTOR = (
    "python -m inference.ncls train-detector --data /data/dota --out DIR --profile full"
)
IMPORT = "python -m inference.ncls import-published --detection d.pth --diagnosis w --out DIR"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2))


def flip_byte(path: Path) -> Path:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return path


def make_trained_dir(root: Path, *, profile: str = "full", commands: bool = True) -> Path:
    """A directory as train-detector and train-diagnosis write it (weights are stand-ins)."""
    root.mkdir(parents=True)
    folds = root / f"diagnosis-{profile}"
    for fold in range(2):
        weights = folds / f"fold_{fold}.safetensors"
        weights.parent.mkdir(parents=True, exist_ok=True)
        weights.write_bytes(f"fold {fold} weights".encode() * 100)
        record = {
            "format": DIAGNOSIS_FORMAT,
            "profile": profile,
            "fold": fold,
            "weights": weights.name,
            "sha256": _sha(weights),
            "validation": {"auc": 0.9 + fold / 100, "sensitivity": 0.8, "n": 40},
        }
        if commands:
            record["command"] = TRAIN_DIAGNOSIS
        _write(folds / f"fold_{fold}.json", record)
    summary = {"out_of_fold_auc": 0.912, "held_out": {"auc": 0.88, "n": 120, "rules": {"x": 1}}}
    if commands:
        summary["command"] = TRAIN_DIAGNOSIS
    _write(folds / "diagnosis.json", summary)
    detector = root / f"detector-{profile}" / "detector.safetensors"
    detector.parent.mkdir(parents=True)
    detector.write_bytes(b"detector weights" * 200)
    record = {
        "format": DETECTOR_FORMAT,
        "profile": profile,
        "weights_file": detector.name,
        "weights_sha256": _sha(detector),
        "metrics": {"validation": {"map": 0.61, "ap": {"cor_thalamus": 0.4}}},
    }
    if commands:
        record["command"] = TRAIN_DETECTOR
    _write(detector.parent / "detector.json", record)
    return root


def make_published_dir(root: Path) -> Path:
    """A directory as ``import-published`` writes it (weights are stand-ins)."""
    root.mkdir(parents=True)
    detector = root / "detector.safetensors"
    detector.write_bytes(b"published detector" * 100)
    folds = []
    for fold in range(1, 6):
        weights = root / f"fold_{fold}.safetensors"
        weights.write_bytes(f"published fold {fold}".encode() * 100)
        folds.append(
            {
                "fold": fold,
                "weights": weights.name,
                "sha256": _sha(weights),
                "source": {"file": f"fold_{fold}.pth", "sha256": f"{fold}" * 64, "bytes": 1},
            }
        )
    _write(
        root / PUBLISHED_RECORD,
        {
            "format": PUBLISHED_FORMAT,
            "name": "ncls-published",
            "version": "ncls-published-abc",
            "profile": "published",
            "provenance": "published import",
            "command": IMPORT,
            "imported_at": "2026-01-01T00:00:00+00:00",
            "source_repository": "https://github.com/Je1zzz/Neonatal_cerebral_lesions_screening_NCLS",
            "detector": {
                "weights": detector.name,
                "sha256": _sha(detector),
                "source": {"file": "detection_weight.pth", "sha256": "d" * 64},
            },
            "diagnosis": {"folds": folds, "severe_threshold": 0.2},
        },
    )
    return root


@pytest.fixture
def trained_dir(tmp_path: Path) -> Path:
    return make_trained_dir(tmp_path / "trained")


@pytest.fixture
def published_dir(tmp_path: Path) -> Path:
    return make_published_dir(tmp_path / "published")


@pytest.fixture
def manager():
    """A user with the platform permission (not staff, reads in no study)."""
    user = UserFactory(username="model-admin")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="inference", codename="add_modelversion")
    )
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def reader():
    user = UserFactory(username="model-reader")
    MembershipFactory(study=StudyFactory(), user=user, role=Role.READER)
    return user


# ---------------------------------------------------------------- the service


def test_formats_are_those_the_library_writes():
    from inference.ncls.detection.checkpoint import FORMAT as detector_format
    from inference.ncls.diagnosis.checkpoint import FORMAT as diagnosis_format
    from inference.ncls.published.model_dir import FORMAT, RECORD_NAME

    assert (PUBLISHED_FORMAT, PUBLISHED_RECORD) == (FORMAT, RECORD_NAME)
    assert (detector_format, diagnosis_format) == (DETECTOR_FORMAT, DIAGNOSIS_FORMAT)


def test_register_a_model_trained_with_the_platform(trained_dir, manager):
    model = model_register(
        actor=manager, directory=trained_dir, name="hospital-cus", version="2026.1"
    )
    assert (model.profile, model.provenance, model.is_demo) == ("full", Provenance.TRAINED, False)
    assert model.provenance_detail["commands"] == {
        "diagnosis": TRAIN_DIAGNOSIS,
        "detector": TRAIN_DETECTOR,
    }
    files = {f["path"]: f["sha256"] for f in model.files}
    assert files["detector-full/detector.safetensors"] == _sha(
        trained_dir / "detector-full/detector.safetensors"
    )
    assert set(files) == {
        "detector-full/detector.json",
        "detector-full/detector.safetensors",
        "diagnosis-full/diagnosis.json",
        "diagnosis-full/fold_0.json",
        "diagnosis-full/fold_0.safetensors",
        "diagnosis-full/fold_1.json",
        "diagnosis-full/fold_1.safetensors",
    }
    assert model.metrics["diagnosis-full/diagnosis.json"]["out_of_fold_auc"] == 0.912
    assert model.metrics["detector-full/detector.json"]["metrics"]["validation"]["map"] == 0.61
    assert model.metrics["diagnosis-full/fold_1.json"]["validation"]["auc"] == 0.91
    assert (model.verification_ok, model.registered_by) == (True, manager)
    event = AuditEvent.objects.get(action=AuditAction.MODEL_REGISTERED, target_id=str(model.pk))
    assert event.after["files"] == files and event.after["demo"] is False


def test_register_a_published_import(published_dir):
    model = model_register(
        actor=None, directory=published_dir, name="ncls-published", version="authors-1"
    )
    assert (model.profile, model.provenance, model.is_demo) == (
        "published",
        Provenance.PUBLISHED,
        False,
    )
    detail = model.provenance_detail
    assert detail["command"] == IMPORT and detail["detector"] is True
    assert [s["network"] for s in detail["sources"]] == ["detector"] + [
        f"fold {k}" for k in range(1, 6)
    ]
    assert detail["sources"][0]["source_sha256"] == "d" * 64
    assert len(model.files) == 7 and model.metrics == {}


def test_a_directory_without_training_record_is_uploaded(tmp_path):
    directory = make_trained_dir(tmp_path / "m", profile="lite", commands=False)
    model = model_register(actor=None, directory=directory, name="from-elsewhere", version="1")
    assert (model.profile, model.provenance) == ("lite", Provenance.UPLOADED)


def test_the_shipped_demo_models_register_as_trained_but_never_as_demo(tmp_path):
    copy = shutil.copytree(DEMO_MODEL_DIR, tmp_path / "demo")
    model = model_register(actor=None, directory=copy, name="lite-copy", version="1")
    assert (model.profile, model.provenance, model.is_demo) == ("lite", Provenance.TRAINED, False)
    assert model.provenance_detail["trained_on_demo_data"] is True
    assert len([f for f in model.files if f["path"].endswith(".safetensors")]) == 6


def test_register_demo_models_alone_sets_the_demo_flag():
    call_command("register_demo_models", stdout=StringIO())
    demo = ModelVersion.objects.get(is_demo=True)
    assert demo.provenance == Provenance.TRAINED and demo.verification_ok
    call_command("register_demo_models", stdout=StringIO())  # idempotent
    assert ModelVersion.objects.count() == 1


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (lambda d: d / "absent", "no such directory"),
        (lambda d: (d / "fold.txt").write_text("x") and d, "unknown model directory format"),
        (
            lambda d: (flip_byte(d / "trained/diagnosis-full/fold_1.safetensors"), d / "trained")[
                1
            ],
            "checksum mismatch: diagnosis-full/fold_1.safetensors",
        ),
        (
            lambda d: ((d / "trained/detector-full/detector.safetensors").unlink(), d / "trained")[
                1
            ],
            "listed in detector-full/detector.json but missing",
        ),
        (
            lambda d: ((d / "published/fold_3.safetensors").write_bytes(b"x"), d / "published")[1],
            "checksum mismatch: fold_3.safetensors",
        ),
        (
            lambda d: (
                (d / "published" / PUBLISHED_RECORD).write_text('{"format": "other/9"}'),
                d / "published",
            )[1],
            "unknown format 'other/9'",
        ),
    ],
    ids=[
        "missing",
        "unknown-format",
        "trained-mismatch",
        "missing-weights",
        "published-mismatch",
        "published-format",
    ],
)
def test_register_refuses(tmp_path, trained_dir, published_dir, prepare, message):
    directory = prepare(tmp_path)
    with pytest.raises(ModelDirectoryError, match=message):
        model_register(actor=None, directory=directory, name="x", version="1")
    assert not ModelVersion.objects.exists()


def test_register_refuses_a_duplicate_name_and_version(trained_dir, published_dir):
    model_register(actor=None, directory=trained_dir, name="ncls", version="1")
    with pytest.raises(DuplicateModel, match="ncls 1 is registered already"):
        model_register(actor=None, directory=published_dir, name="ncls", version="1")
    assert (
        model_register(actor=None, directory=published_dir, name="ncls", version="2").version == "2"
    )


def test_verify_recomputes_every_sha256_and_stores_the_result(trained_dir, manager):
    model = model_register(actor=None, directory=trained_dir, name="ncls", version="1")
    first = model_verify(actor=manager, model_version=model)
    assert first.ok and first.checked == 7
    flip_byte(trained_dir / "diagnosis-full/fold_0.safetensors")
    (trained_dir / "detector-full/detector.json").unlink()
    second = model_verify(actor=manager, model_version=model)
    assert not second.ok
    model.refresh_from_db()
    assert model.verification_ok is False and model.verified_at == second.at
    assert model.verification_problems == [
        "detector-full/detector.json: missing",
        f"diagnosis-full/fold_0.safetensors: changed since registration (SHA-256 "
        f"{_sha(trained_dir / 'diagnosis-full/fold_0.safetensors')}, registered "
        f"{next(f['sha256'] for f in model.files if f['path'] == 'diagnosis-full/fold_0.safetensors')})",
    ]
    events = AuditEvent.objects.filter(action=MODEL_VERIFIED, target_id=str(model.pk))
    assert [e.after["ok"] for e in events] == [True, False]


def test_the_run_guard_hashes_a_file_again_whenever_it_changed(trained_dir, monkeypatch):
    """The guard before each case reuses a hash only while the file's identity (inode, size,
    mtime, ctime) is unchanged: a byte changed with the mtime set back is still found."""
    monkeypatch.setattr(registry.verification, "_SETTLED_NS", 0)
    model = model_register(actor=None, directory=trained_dir, name="ncls", version="1")
    weights = trained_dir / "diagnosis-full/fold_0.safetensors"
    assert model_require_intact(model_version=model) == trained_dir
    hashed = []
    monkeypatch.setattr(
        registry.verification, "file_sha256", lambda p: hashed.append(p) or _sha(Path(p))
    )
    model_require_intact(model_version=model)
    assert hashed == []  # nothing changed: nothing hashed again
    time.sleep(0.05)
    before = weights.stat()
    flip_byte(weights)
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(ChecksumMismatch, match=r"fold_0\.safetensors: changed since registration"):
        model_require_intact(model_version=model)
    assert weights in hashed


def test_inspect_reads_without_registering(published_dir):
    info = inspect_model_dir(published_dir)
    assert info.profile == "published" and not ModelVersion.objects.exists()


# ---------------------------------------------------------------- the command


def test_register_model_command(trained_dir):
    out = StringIO()
    call_command(
        "register_model", str(trained_dir), "--name", "hospital", "--version", "v3", stdout=out
    )
    text = out.getvalue()
    assert "registered hospital v3: profile full" in text and TRAIN_DETECTOR in text
    model = ModelVersion.objects.get(name="hospital", version="v3")
    assert not model.is_demo
    for entry in model.files:
        assert f"{entry['sha256']}  {entry['path']}" in text
    out = StringIO()
    call_command("verify_model", "--name", "hospital", "--version", "v3", stdout=out)
    assert "all 7 files match" in out.getvalue()
    flip_byte(trained_dir / "detector-full/detector.safetensors")
    with pytest.raises(CommandError, match="FAILED verification"):
        call_command("verify_model", "--name", "hospital", "--version", "v3")


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "no such directory"),
        ("unknown", "unknown model directory format"),
        ("mismatch", "checksum mismatch"),
        ("duplicate", "registered already"),
    ],
)
def test_register_model_command_refusals(tmp_path, trained_dir, case, message):
    directory = trained_dir
    if case == "missing":
        directory = tmp_path / "nowhere"
    elif case == "unknown":
        directory = tmp_path / "other"
        directory.mkdir()
        (directory / "weights.safetensors").write_bytes(b"w")
    elif case == "mismatch":
        flip_byte(trained_dir / "diagnosis-full/fold_0.safetensors")
    else:
        call_command(
            "register_model", str(trained_dir), "--name", "n", "--version", "v", stdout=StringIO()
        )
    with pytest.raises(CommandError, match=message):
        call_command(
            "register_model", str(directory), "--name", "n", "--version", "v", stdout=StringIO()
        )
    assert ModelVersion.objects.count() == (1 if case == "duplicate" else 0)


# ---------------------------------------------------------------- who may


def test_who_may_manage_models(manager, reader):
    staff = UserFactory(username="staff", is_staff=True)
    coordinator = UserFactory(username="coord-only")
    MembershipFactory(study=StudyFactory(), user=coordinator, role=Role.COORDINATOR)
    reader_with_permission = UserFactory(username="reader-with-permission")
    MembershipFactory(study=StudyFactory(), user=reader_with_permission, role=Role.READER)
    reader_with_permission.user_permissions.add(
        Permission.objects.get(content_type__app_label="inference", codename="add_modelversion")
    )
    reader_with_permission = type(reader_with_permission).objects.get(pk=reader_with_permission.pk)
    assert can_manage_models(manager) and can_manage_models(staff)
    assert not can_manage_models(reader) and not can_manage_models(coordinator)
    assert not can_manage_models(reader_with_permission)


# ---------------------------------------------------------------- the page


def test_page_registers_lists_and_verifies(trained_dir, published_dir, manager):
    client = Client()
    client.force_login(manager)
    url = reverse("inference:models")
    assert b"No model registered yet." in client.get(url).content
    response = client.post(
        url, {"directory": str(trained_dir), "name": "hospital", "version": "v1"}
    )
    assert response.status_code == 302
    model = ModelVersion.objects.get(name="hospital")
    page = client.get(url).content.decode()
    assert "hospital" in page and "v1" in page and "full" in page
    assert "trained with the platform" in page and TRAIN_DIAGNOSIS in page
    assert "out_of_fold_auc 0.912" in page and "validation.map 0.61" in page
    for entry in model.files:
        assert entry["sha256"] in page
    assert "passed: every file matches its SHA-256" in page
    assert "demo model — not for clinical use" not in page

    # A refusal is shown on the form; nothing is registered.
    flip_byte(published_dir / "fold_2.safetensors")
    response = client.post(url, {"directory": str(published_dir), "name": "pub", "version": "1"})
    assert response.status_code == 200
    assert "checksum mismatch: fold_2.safetensors" in response.content.decode()
    assert not ModelVersion.objects.filter(name="pub").exists()
    response = client.post(
        url, {"directory": str(trained_dir), "name": "hospital", "version": "v1"}
    )
    assert "hospital v1 is registered already" in response.content.decode()

    flip_byte(trained_dir / "detector-full/detector.safetensors")
    response = client.post(reverse("inference:model-verify", args=[model.pk]), follow=True)
    page = response.content.decode()
    assert "FAILED: the model cannot run" in page
    assert "detector-full/detector.safetensors: changed since registration" in page
    model.refresh_from_db()
    assert model.verification_ok is False


def test_page_shows_the_demo_notice(manager):
    call_command("register_demo_models", stdout=StringIO())
    client = Client()
    client.force_login(manager)
    page = client.get(reverse("inference:models")).content.decode()
    assert "demo model — not for clinical use" in page


def test_readers_and_coordinators_without_the_permission_are_refused(trained_dir, reader):
    model = model_register(actor=None, directory=trained_dir, name="secret-model", version="9")
    coordinator = UserFactory(username="coord-no-perm")
    MembershipFactory(study=StudyFactory(), user=coordinator, role=Role.COORDINATOR)
    for user in (reader, coordinator):
        client = Client()
        client.force_login(user)
        response = client.get(reverse("inference:models"))
        assert response.status_code == 403 and b"secret-model" not in response.content
        response = client.post(
            reverse("inference:models"),
            {"directory": str(trained_dir), "name": "x", "version": "1"},
        )
        assert response.status_code == 403
        assert client.post(reverse("inference:model-verify", args=[model.pk])).status_code == 403
        assert (
            client.post(
                reverse("inference:api-model-register"),
                {"directory": str(trained_dir), "name": "x", "version": "1"},
            ).status_code
            == 403
        )
        assert (
            client.post(reverse("inference:api-model-verify", args=[model.pk])).status_code == 403
        )
    assert ModelVersion.objects.count() == 1
    assert not AuditEvent.objects.filter(action=MODEL_VERIFIED).exists()
    anonymous = Client().get(reverse("inference:models"))
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


# ---------------------------------------------------------------- the API


def test_api_registers_and_verifies(published_dir, manager):
    client = Client()
    client.force_login(manager)
    response = client.post(
        reverse("inference:api-model-register"),
        {"directory": str(published_dir), "name": "ncls-published", "version": "a1"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["profile"], body["provenance"], body["demo"], body["notice"]) == (
        "published",
        "published",
        False,
        "",
    )
    assert body["verification_ok"] is True and len(body["files"]) == 7
    again = client.post(
        reverse("inference:api-model-register"),
        {"directory": str(published_dir), "name": "ncls-published", "version": "a1"},
        content_type="application/json",
    )
    assert again.status_code == 400 and "registered already" in again.json()["detail"]
    missing = client.post(
        reverse("inference:api-model-register"),
        {"directory": "/no/such/dir", "name": "n", "version": "1"},
        content_type="application/json",
    )
    assert missing.status_code == 400 and "no such directory" in missing.json()["detail"]

    verify = reverse("inference:api-model-verify", args=[body["id"]])
    assert client.post(verify).json()["verification_ok"] is True
    flip_byte(published_dir / "detector.safetensors")
    result = client.post(verify).json()
    assert result["verification_ok"] is False
    assert result["verification_problems"][0].startswith(
        "detector.safetensors: changed since registration"
    )


# ---------------------------------------------------------------- runs


@pytest.fixture
def study_with_cases(tmp_path):
    coordinator = UserFactory(username="ai-coordinator")
    study = trial_services.study_create(
        actor=coordinator, title="Registry study", design="standalone"
    )
    dataset = trial_services.dataset_create(
        actor=coordinator, study=study, name="Internal", kind="internal"
    )
    video = make_mp4(tmp_path / "sweep.mp4", make_sweep_frames(6, 320, 256))
    cases = []
    for index in range(2):
        case = trial_services.case_create(
            actor=coordinator, dataset=dataset, code=f"R{index}", conditions=["normal"]
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


@pytest.fixture
def fake_runner(settings):
    calls: list[Path] = []

    def run(model_dir: Path, videos: dict[str, Path]) -> CaseAIOutput:
        calls.append(model_dir)
        frame = make_fan_frame(400, 300, overlays=True, seed=len(calls))
        return CaseAIOutput(
            views={"AHV": (frame, 3), "TVV": None},
            missing_reasons={"TVV": "no frames"},
            severe_probability=0.3,
            severe=True,
            rule="case_head",
            image_labels={},
        )

    settings.FONTANELLE_PIPELINE_RUNNER = run
    return calls


def test_the_model_version_is_frozen_into_every_ai_material_set(
    study_with_cases, trained_dir, fake_runner, django_capture_on_commit_callbacks
):
    coordinator, study, dataset, _cases = study_with_cases
    model = model_register(actor=None, directory=trained_dir, name="hospital", version="v1")
    with django_capture_on_commit_callbacks(execute=True):
        run = runs.ai_run_start(
            actor=coordinator, study=study, dataset=dataset, model_version=model
        )
    assert run.model_version == model and fake_runner == [trained_dir.resolve()] * 2
    sets = MaterialSet.objects.filter(case__study=study, source=MaterialSource.AI)
    assert sets.count() == 2
    for material in sets:
        assert material.author_model_id == model.pk
        assert material.author_model_label == str(model) == "hospital v1 (full)"
        assert material.ai_result.model_version == model
    # The version a material set was made by cannot be removed from under it.
    with pytest.raises(ProtectedError):
        model.delete()


def test_a_tampered_model_cannot_run(
    study_with_cases, trained_dir, fake_runner, django_capture_on_commit_callbacks
):
    """A byte changed in a registered file: verify fails, the run request and the worker refuse."""
    coordinator, study, dataset, cases = study_with_cases
    model = model_register(actor=None, directory=trained_dir, name="hospital", version="v1")
    flip_byte(trained_dir / "diagnosis-full/fold_1.safetensors")

    assert not model_verify(actor=None, model_version=model).ok

    with pytest.raises(ChecksumMismatch) as refused:
        runs.ai_run_start(actor=coordinator, study=study, dataset=dataset, model_version=model)
    message = "; ".join(refused.value.messages)
    assert message.startswith("Model hospital v1 cannot run: its files no longer match the SHA-256")
    assert "diagnosis-full/fold_1.safetensors: changed since registration" in message
    assert not AIRun.objects.exists()
    model.refresh_from_db()
    assert model.verification_ok is False  # the refusal is on the model's record

    # The worker checks again before running (a run queued before the file changed).
    build_ai_material(case_id=str(cases[0].pk), model_version_id=str(model.pk))
    result = AICaseResult.objects.get(case=cases[0], model_version=model)
    assert result.status == ResultStatus.FAILED
    assert (
        result.error.startswith("Model hospital v1 cannot run")
        and "fold_1.safetensors" in result.error
    )
    assert fake_runner == [] and not MaterialSet.objects.filter(source=MaterialSource.AI).exists()

    # Through the coordinator's AI page the refusal is shown, and no run is created.
    client = Client()
    client.force_login(coordinator)
    response = client.post(
        reverse("inference:ai", args=[study.pk]),
        {"dataset": str(dataset.pk), "model_version": str(model.pk)},
        follow=True,
    )
    assert "Model hospital v1 cannot run" in response.content.decode()
    # …and through the API, as a 400 with the reason.
    response = client.post(
        reverse("inference:api-runs", args=[study.pk]),
        {"dataset": str(dataset.pk), "model_version": str(model.pk)},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Model hospital v1 cannot run")
    assert not AIRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_register_tamper_verify_and_refusal_commit_for_real(study_with_cases, trained_dir, manager):
    """The same path with real commits (run with DATABASE_URL=postgres://… on PostgreSQL: the
    audit chain's advisory lock and append-only trigger are then exercised)."""
    coordinator, study, dataset, _ = study_with_cases
    client = Client()
    client.force_login(manager)
    client.post(
        reverse("inference:models"), {"directory": str(trained_dir), "name": "pg", "version": "1"}
    )
    model = ModelVersion.objects.get(name="pg")
    flip_byte(trained_dir / "detector-full/detector.safetensors")
    client.post(reverse("inference:model-verify", args=[model.pk]))
    with pytest.raises(ValidationError, match="cannot run"):
        runs.ai_run_start(actor=coordinator, study=study, dataset=dataset, model_version=model)
    model.refresh_from_db()
    assert model.verification_ok is False and not AIRun.objects.exists()
    assert [e.after["ok"] for e in AuditEvent.objects.filter(action=MODEL_VERIFIED)] == [
        False,
        False,
    ]
