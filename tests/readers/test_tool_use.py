"""Workstation tool counts: validated, saved with the read (form and API), exported; and the
rendition facts the tools use (frame rate, pixel spacing) reach only the case's own media."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from analysis.exports import TOOL_USE_COLUMN, analysis_zip, reads_csv
from analysis.selectors import study_data
from readers import selectors, services
from readers.forms import AnswerForm
from readers.models import Read
from readers.services import ReadAnswer
from readers.tool_use import TOOL_COUNT_MAX, TOOL_KEYS, tool_use_clean
from tests.readers.factories import reading_study
from trials.models import Rendition

pytestmark = pytest.mark.django_db

COUNTS = {"window_level": 3, "zoom": 1, "pan": 0, "frame_step": 12, "cine": 1, "caliper": 2}


def test_tool_use_clean_fills_known_keys_and_refuses_the_rest():
    assert tool_use_clean(None) == {} and tool_use_clean("") == {} and tool_use_clean({}) == {}
    cleaned = tool_use_clean(COUNTS)
    assert (
        list(cleaned) == list(TOOL_KEYS) and cleaned["reset"] == 0 and cleaned["frame_step"] == 12
    )
    assert tool_use_clean(json.dumps(COUNTS)) == cleaned
    for bad in (
        {"laser": 1},
        {"zoom": -1},
        {"zoom": 1.5},
        {"zoom": True},
        {"zoom": "3"},
        {"zoom": TOOL_COUNT_MAX + 1},
        [1, 2],
        "not json",
        "[]",
    ):
        with pytest.raises(ValidationError):
            tool_use_clean(bad)
    assert tool_use_clean({"zoom": TOOL_COUNT_MAX})["zoom"] == TOOL_COUNT_MAX


def _form_data(**extra):
    return {"severe": "yes", "confidence": "80", "client_event_id": str(uuid.uuid4()), **extra}


def test_answer_form_validates_the_hidden_tool_counts():
    form = AnswerForm(_form_data(tool_use=json.dumps(COUNTS)))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["tool_use"]["caliper"] == 2
    assert AnswerForm(_form_data()).is_valid()  # a client without the tools sends none
    assert not AnswerForm(_form_data(tool_use='{"zoom": -2}')).is_valid()
    assert not AnswerForm(_form_data(tool_use='{"eraser": 1}')).is_valid()


def _served(prefix):
    setup = reading_study(n_cases=2, prefix=prefix)
    reader = setup.readers[0]
    assignment = services.session_next_assignment(session=setup.session_of(reader))
    services.assignment_serve(reader=reader, assignment=assignment)
    return setup, reader, assignment


def test_the_case_page_saves_the_counts_with_the_read(client):
    _setup, reader, assignment = _served("tuf")
    client.force_login(reader)
    url = reverse("readers:case", kwargs={"token": assignment.token})
    response = client.get(url)
    assert b"data-tool-use" in response.content
    response = client.post(url, _form_data(tool_use=json.dumps(COUNTS)))
    assert response.status_code == 302
    read = Read.objects.get(assignment=assignment)
    assert read.tool_use == tool_use_clean(COUNTS)
    # Refused counts: the answer is not saved.
    other = services.session_next_assignment(session=assignment.session)
    services.assignment_serve(reader=reader, assignment=other)
    url = reverse("readers:case", kwargs={"token": other.token})
    response = client.post(url, _form_data(tool_use='{"zoom": 1000001}'))
    assert response.status_code == 400 and not Read.objects.filter(assignment=other).exists()


def test_the_api_takes_validates_and_returns_the_counts():
    _setup, reader, assignment = _served("tua")
    api = APIClient()
    api.force_authenticate(reader)
    url = reverse("readers:api-read", kwargs={"token": assignment.token})
    body = {"severe": False, "confidence": 30, "client_event_id": str(uuid.uuid4())}
    assert api.post(url, {**body, "tool_use": {"zoom": -1}}, format="json").status_code == 400
    assert api.post(url, {**body, "tool_use": {"brush": 1}}, format="json").status_code == 400
    response = api.post(url, {**body, "tool_use": COUNTS}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["tool_use"] == tool_use_clean(COUNTS)
    assert Read.objects.get(assignment=assignment).tool_use["window_level"] == 3


def test_the_counts_are_exported_with_the_reads():
    setup, reader, assignment = _served("tux")
    services.read_submit(
        reader=reader,
        assignment=assignment,
        client_event_id=uuid.uuid4(),
        answer=ReadAnswer(severe=True, confidence=90),
        tool_use=COUNTS,
    )
    data = study_data(study=setup.study)
    human = data.reads[data.reads["reader"] == reader.username]
    assert len(human) == 1 and json.loads(human[TOOL_USE_COLUMN].iloc[0]) == tool_use_clean(COUNTS)
    assert (data.reads[data.reads["reader"] == "AI"][TOOL_USE_COLUMN] == "").all()
    rows = list(csv.DictReader(io.StringIO(reads_csv(data).decode())))
    mine = [r for r in rows if r["reader"] == reader.username]
    assert json.loads(mine[0]["tool_use"])["frame_step"] == 12 and mine[0]["read_time_s"]
    import zipfile

    with zipfile.ZipFile(io.BytesIO(analysis_zip([], data))) as archive:
        assert b"tool_use" in archive.read("data/reads.csv").splitlines()[0]


def test_pixel_spacing_and_fps_reach_only_the_case_media():
    _setup, _reader, assignment = _served("tus")
    case = assignment.case
    Rendition.objects.filter(case=case).update(
        pixel_spacing_x_mm=0.1, pixel_spacing_y_mm=0.2, fps=25.0
    )
    slots = selectors.assignment_slots(assignment=assignment)
    for slot in slots:
        public = slot.as_public()
        if slot.group == "case":
            assert public["pixel_spacing_mm"] == [0.1, 0.2]
            assert public["fps"] == (25.0 if slot.kind == "video" else None)
        else:  # material views of every source look alike: no spacing
            assert public["pixel_spacing_mm"] is None
    assert any(s.group == "case" for s in slots)


def test_a_dicom_sweep_rendition_keeps_its_fps_and_spacing_scaled_to_the_canvas(tmp_path):
    import pydicom
    from django.core.files.base import ContentFile

    from tests.media_factories import make_dicom_cine, make_sweep_frames
    from tests.readers.factories import AssetFactory, CaseFactory
    from trials import media
    from trials.models import AssetKind
    from trials.services.renditions import rendition_make_for_asset

    path = make_dicom_cine(tmp_path / "sweep.dcm", make_sweep_frames(6), jpeg=False)
    ds = pydicom.dcmread(path)
    ds.PixelSpacing = [0.3, 0.2]  # row (y), column (x), mm
    ds.save_as(path)
    assert media.dicom_pixel_spacing_of(path) == pytest.approx((0.2, 0.3))
    case = CaseFactory()
    made = {}
    for fmt in ("dicom", "mp4"):
        asset = AssetFactory(
            case=case,
            kind=AssetKind.SWEEP_VIDEO,
            view="",
            media_format=fmt,
            orientation="coronal" if fmt == "dicom" else "sagittal",
            file=ContentFile(path.read_bytes(), name="upload"),
        )
        made[fmt] = rendition_make_for_asset(asset_id=asset.pk)
    dicom = made["dicom"]
    assert dicom.status == "ready" and dicom.fps == case.study.cine_fps
    info = media.render_video(path, tmp_path / "out.mp4", fps=25)
    assert (dicom.pixel_spacing_x_mm, dicom.pixel_spacing_y_mm) == pytest.approx(
        (0.2 / info.crop.scale, 0.3 / info.crop.scale)
    )
    # Calibration is read from DICOM only.
    assert made["mp4"].pixel_spacing_x_mm is None and made["mp4"].fps == case.study.cine_fps
