"""Pixel-level blinding: what a reader can fetch where the AI is not shown is the case's own media.

The text-marker leak test (``test_blinding``) cannot see an AI heatmap served as one more
case image. Here every image and video a reader can fetch, through the case page, the
preparation page and the API, is decoded: in a phase that does not show the AI it must
be a canonical grey rendition (PNG, 8-bit grey, canonical size; H.264 MP4 with grey
frames of canonical size) of the case's own uploaded media, and the case's slots must
be the same whether or not the AI has run on the case.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
from pathlib import Path

import av
import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from inference import services as inference_services
from inference.models import Heatmap
from inference.services import CaseAIOutput, model_version_register
from readers import services
from readers.models import ReaderTier, ReadingSession, SessionPhase
from readers.selectors import assignment_slots
from readers.services import ReadAnswer
from tests.media_factories import make_fan_frame
from tests.readers.factories import (
    CaseFactory,
    DatasetFactory,
    GoldStandardFactory,
    StudyFactory,
    UserFactory,
)
from tests.readers.source_trial_setup import sweep_asset_make
from trials import media
from trials.models import (
    Asset,
    AssetKind,
    Membership,
    Rendition,
    RenditionKind,
    Role,
    StudyDesign,
    StudyStatus,
)
from trials.services import study_transition
from trials.services.allocation import allocation_generate
from trials.services.renditions import rendition_make_for_asset

pytestmark = pytest.mark.django_db

_MEDIA_URL = re.compile(r"/read/[A-Za-z0-9_-]+/view/[0-9a-f]+")


def _colour_overlay(seed: int) -> np.ndarray:
    """A jet-like heatmap overlay: strongly coloured, as Finer-CAM's are."""
    frame = make_fan_frame(400, 300, overlays=False, seed=seed)
    overlay = frame.copy()
    overlay[..., 0] = np.clip(frame[..., 0].astype(int) + 120, 0, 255)
    overlay[..., 2] = np.clip(frame[..., 2].astype(int) // 3, 0, 255)
    return overlay.astype(np.uint8)


@pytest.fixture
def ai_model(tmp_path: Path, settings):
    """A registered model and a pipeline that picks frames and makes colour heatmaps."""
    directory = tmp_path / "model"
    directory.mkdir()
    (directory / "fold0.safetensors").write_bytes(b"weights")
    model = model_version_register(
        actor=None, name="ncls", version="pix-1", profile="lite", directory=directory, is_demo=False
    )

    def run(model_dir: Path, videos: dict[str, Path]) -> CaseAIOutput:
        frame = make_fan_frame(320, 256, overlays=True, seed=5)
        views = {v: (frame, i) for i, v in enumerate(("AHV", "TVV", "BV", "MSV", "RPSV"))} | {
            "LPSV": None
        }
        return CaseAIOutput(
            views=views,
            missing_reasons={"LPSV": "not found"},
            severe_probability=0.91,
            severe=True,
            rule="case_head",
            image_labels={},
            heatmaps={
                v: _colour_overlay(i) for i, v in enumerate(("AHV", "TVV", "BV", "MSV", "RPSV"))
            },
        )

    settings.FONTANELLE_PIPELINE_RUNNER = run
    return model


def _view_asset(case, view: str, seed: int) -> Asset:
    buffer = io.BytesIO()
    Image.fromarray(make_fan_frame(320, 256, overlays=True, seed=seed)).save(buffer, format="PNG")
    data = buffer.getvalue()
    asset = Asset(
        case=case,
        kind=AssetKind.VIEW_IMAGE,
        view=view,
        media_format="png",
        sha256="0" * 64,
        size_bytes=len(data),
        width=320,
        height=256,
    )
    asset.file.save("upload", ContentFile(data), save=False)
    asset.save()
    rendition_make_for_asset(asset_id=asset.pk)
    return asset


def _study(design: str, tiers: list[str], prefix: str):
    """A draft study of ``design``: two cases with real sweeps and view images, readers enrolled."""
    study = StudyFactory(design=design, status=StudyStatus.DRAFT, title=f"{prefix} pixel study")
    coordinator = UserFactory(username=f"{prefix}-coordinator")
    Membership.objects.create(study=study, user=coordinator, role=Role.COORDINATOR)
    dataset = DatasetFactory(study=study, name=f"{prefix} set")
    cases = []
    for i in range(2):
        case = CaseFactory(dataset=dataset, study=study, code=f"{prefix.upper()}-{i}")
        GoldStandardFactory(case=case)
        for k, orientation in enumerate(("coronal", "sagittal")):
            sweep_asset_make(case, orientation, seed=20 * i + k)
        for k, view in enumerate(("AHV", "MSV")):
            _view_asset(case, view, seed=30 * i + k)
        cases.append(case)
    readers = []
    for n, tier in enumerate(tiers):
        user = UserFactory(username=f"{prefix}-reader{n}")
        services.reader_enrol(
            actor=coordinator, study=study, user=user, tier=tier, years_experience=4
        )
        readers.append(user)
    return study, coordinator, cases, readers


def _open(study, coordinator, readers, tiers) -> None:
    if study.design == StudyDesign.SOURCE_BLINDED:
        juniors = [r for r, tier in zip(readers, tiers, strict=True) if tier == ReaderTier.JUNIOR]
        seniors = [r for r, tier in zip(readers, tiers, strict=True) if tier == ReaderTier.SENIOR]
        allocation_generate(actor=coordinator, study=study, juniors=juniors, seniors=seniors)
    if study.design == StudyDesign.COUNTERBALANCED_CROSSOVER:
        from trials.models import CrossoverReaderAllocation, CrossoverSequence
        from trials.services.allocation import crossover_allocation_generate

        crossover_allocation_generate(actor=coordinator, study=study)
        # Readers whose first session is the unaided one first (the test reads readers[0]).
        unaided_first = set(
            CrossoverReaderAllocation.objects.filter(
                allocation_list__study=study, sequence=CrossoverSequence.UNAIDED_FIRST
            ).values_list("reader_id", flat=True)
        )
        readers.sort(key=lambda reader: reader.pk not in unaided_first)
    services.session_create_for_design(actor=coordinator, study=study, seed=5)
    study_transition(actor=coordinator, study=study, to="open")


def _run_ai(cases, model) -> None:
    for case in cases:
        result = inference_services.ai_case_build(case_id=case.pk, model_version_id=model.pk)
        assert result.status == "complete", result.error
        assert result.heatmaps.count() == 5


def _public_slots(client: Client, token: str, groups: tuple[str, ...] = ("case",)) -> list[tuple]:
    body = client.get(reverse("readers:api-assignment", kwargs={"token": token})).json()
    return [
        (s["name"], s["kind"], s["label"], s["group"], s["url"])
        for s in body["slots"]
        if s["group"] in groups
    ]


def _fetchable(client: Client, token: str) -> set[str]:
    """Every media URL of the case, from its page and from the API."""
    page = client.get(reverse("readers:case", kwargs={"token": token}))
    assert page.status_code == 200, page.content[-1500:]
    urls = set(_MEDIA_URL.findall(page.content.decode()))
    api = client.get(reverse("readers:api-assignment", kwargs={"token": token}))
    assert api.status_code == 200
    urls |= set(_MEDIA_URL.findall(json.dumps(api.json())))
    return urls


def _assert_canonical_grey_of_case(client: Client, url: str, case) -> None:
    response = client.get(url)
    assert response.status_code == 200, url
    data = response.getvalue()  # the streamed file, joined
    own = set(
        Rendition.objects.filter(
            case=case, asset__case=case, material_set__isnull=True
        ).values_list("sha256", flat=True)
    )
    assert hashlib.sha256(data).hexdigest() in own, (
        f"{url} is not a rendition of the case's own media"
    )
    heatmaps = {h.rendition.sha256 for h in Heatmap.objects.select_related("rendition")}
    assert hashlib.sha256(data).hexdigest() not in heatmaps, f"an AI heatmap is served at {url}"
    if response["Content-Type"] == "image/png":
        image = Image.open(io.BytesIO(data))
        assert image.format == "PNG"
        assert image.mode == "L", f"{url} is a {image.mode} image, not a grey rendition"
        assert image.size == (media.CANVAS_WIDTH, media.CANVAS_HEIGHT)
    else:
        assert response["Content-Type"] == "video/mp4"
        with av.open(io.BytesIO(data)) as container:
            assert isinstance(container, av.container.InputContainer)
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            frames = 0
            for frame in container.decode(stream):
                rgb = frame.to_ndarray(format="rgb24").astype(int)
                assert rgb.shape == (media.CANVAS_HEIGHT, media.CANVAS_WIDTH, 3)
                spread = max(
                    np.abs(rgb[..., 0] - rgb[..., 1]).max(), np.abs(rgb[..., 1] - rgb[..., 2]).max()
                )
                assert spread <= 4, f"{url} has colour frames"
                frames += 1
            assert frames > 0


@pytest.mark.parametrize(
    ("design", "tiers", "phase"),
    [
        (StudyDesign.STANDALONE, [ReaderTier.MID_LEVEL], SessionPhase.UNAIDED),
        (StudyDesign.ASSISTED_CROSSOVER, [ReaderTier.JUNIOR], SessionPhase.UNAIDED),
        (StudyDesign.COUNTERBALANCED_CROSSOVER, [ReaderTier.JUNIOR] * 4, SessionPhase.UNAIDED),
        (
            StudyDesign.SOURCE_BLINDED,
            [ReaderTier.JUNIOR, ReaderTier.SENIOR],
            SessionPhase.PREPARATION,
        ),
    ],
)
def test_media_without_the_ai_is_the_cases_own_grey_media_and_the_same_after_an_ai_run(
    design, tiers, phase, ai_model
):
    study, coordinator, cases, readers = _study(design, tiers, prefix=f"pix-{design[:6]}")
    _open(study, coordinator, readers, tiers)
    reader = readers[0]
    session = ReadingSession.objects.get(study=study, reader=reader, phase=phase)
    client = Client()
    client.force_login(reader)
    tokens = list(session.assignments.order_by("position").values_list("token", flat=True))
    first = tokens[0]
    before = _public_slots(client, first)
    assert len(before) == 4  # the case's two sweeps and two view images
    _run_ai(cases, ai_model)
    after = _public_slots(client, first)
    assert after == before, "the case's slots change when the AI has run"
    assert [
        s for s in _public_slots(client, first, ("case", "material", "heatmap")) if s[3] != "case"
    ] == []
    for index, token in enumerate(tokens):
        assignment = session.assignments.get(token=token)
        urls = _fetchable(client, token)
        assert len(urls) == 4
        for url in sorted(urls):
            _assert_canonical_grey_of_case(client, url, assignment.case)
        if phase == SessionPhase.PREPARATION:
            from readers.preparation import VIEWS, material_prepare

            material_prepare(
                reader=reader,
                assignment=assignment,
                picks=dict.fromkeys(VIEWS) | {"AHV": 0},
                initial_severe=False,
                client_event_id=uuid.uuid4(),
            )
        else:
            services.read_submit(
                reader=reader,
                assignment=assignment,
                answer=ReadAnswer(severe=False, confidence=index),
                client_event_id=uuid.uuid4(),
            )


def test_qualitative_case_media_holds_no_heatmap(ai_model):
    """A qualitative rater sees the AI's views openly, but the case's own media stay its own."""
    study, coordinator, cases, readers = _study(
        StudyDesign.QUALITATIVE, [ReaderTier.SENIOR], prefix="pix-qual"
    )
    _open(study, coordinator, readers, [ReaderTier.SENIOR])
    session = ReadingSession.objects.get(
        study=study, reader=readers[0], phase=SessionPhase.QUALITATIVE
    )
    client = Client()
    client.force_login(readers[0])
    token = session.assignments.order_by("position").first().token
    before = _public_slots(client, token)
    _run_ai(cases, ai_model)
    after = _public_slots(client, token)
    assert after == before
    for *_slot, url in after:
        _assert_canonical_grey_of_case(client, url, session.assignments.get(token=token).case)


def test_heatmaps_belong_to_the_ai_material_and_reach_only_the_aided_phase(ai_model):
    """Heatmaps are stored with the AI's material, never as media of the case."""
    study, coordinator, cases, readers = _study(
        StudyDesign.ASSISTED_CROSSOVER, [ReaderTier.JUNIOR], prefix="pix-aided"
    )
    _run_ai(cases, ai_model)
    for heatmap in Heatmap.objects.select_related("rendition", "result"):
        assert heatmap.rendition.material_set_id == heatmap.result.material_set_id
    _open(study, coordinator, readers, [ReaderTier.JUNIOR])
    reader = readers[0]
    unaided = ReadingSession.objects.get(study=study, reader=reader, phase=SessionPhase.UNAIDED)
    aided = ReadingSession.objects.get(study=study, reader=reader, phase=SessionPhase.AIDED)
    for assignment in unaided.assignments.all():
        slots = assignment_slots(assignment=assignment)
        assert {s.group for s in slots} == {"case"} and len(slots) == 4
    for assignment in aided.assignments.select_related("material_set"):
        slots = assignment_slots(assignment=assignment)
        groups = [s.group for s in slots]
        assert (
            groups.count("case") == 4
            and groups.count("heatmap") == 5
            and groups.count("material") == 6
        )
        for slot in slots:
            if slot.group == "heatmap":
                assert slot.rendition.material_set_id == assignment.material_set_id
                assert slot.rendition.kind == RenditionKind.IMAGE
