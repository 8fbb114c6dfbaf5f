"""The blinded randomized source trial: preparation, guess lock, identical renditions, import."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from core.video import read_frames
from readers import services
from readers.models import Read, ReadingSession, SessionPhase, SourceGuess
from readers.preparation import material_prepare
from readers.services import ReadAnswer
from readers.source_trial import source_guess_lock
from tests.readers.source_trial_setup import FRAMES, source_trial_study
from tests.readers.test_blinding import png_chunks
from trials import media
from trials.models import (
    Allocation,
    AuditEvent,
    MaterialSet,
    MaterialSource,
    Rendition,
    StudyDesign,
)
from trials.services import study_transition
from trials.services.allocation import allocation_generate
from trials.services.renditions import local_path

pytestmark = pytest.mark.django_db

PICKS = {"AHV": 2, "TVV": 4, "BV": 6, "MSV": 1, "RPSV": None, "LPSV": 5}


def opened(setup, seed: int = 11):
    """Allocate, create the sessions of the design and open the study."""
    allocation_generate(
        actor=setup.coordinator, study=setup.study, juniors=setup.juniors, seniors=setup.seniors
    )
    services.session_create_for_design(actor=setup.coordinator, study=setup.study, seed=seed)
    return study_transition(actor=setup.coordinator, study=setup.study, to="open")


def prepare_all(setup, client: Client | None = None) -> None:
    """Every junior prepares every case (through the page when a client is given)."""
    for junior in setup.juniors:
        session = ReadingSession.objects.get(
            study=setup.study, reader=junior, phase=SessionPhase.PREPARATION
        )
        while (assignment := services.session_next_assignment(session=session)) is not None:
            services.assignment_serve(reader=junior, assignment=assignment)
            material_prepare(
                reader=junior,
                assignment=assignment,
                picks=PICKS,
                initial_severe=False,
                client_event_id=uuid.uuid4(),
            )


def review_all(setup, senior) -> list[Read]:
    session = ReadingSession.objects.get(
        study=setup.study, reader=senior, phase=SessionPhase.BLINDED_REVIEW
    )
    reads = []
    while (assignment := services.session_next_assignment(session=session)) is not None:
        assignment = services.assignment_serve(reader=senior, assignment=assignment)
        assert assignment.material_set is not None  # a source trial's case shows a material
        source_guess_lock(
            reader=senior, assignment=assignment, guess="dont_know", client_event_id=uuid.uuid4()
        )
        reads.append(
            services.read_submit(
                reader=senior,
                assignment=assignment,
                answer=ReadAnswer(
                    severe=True,
                    confidence=70,
                    extra={"changes_initial": not assignment.material_set.initial_severe},
                ),
                client_event_id=uuid.uuid4(),
            )
        )
    return reads


def test_sessions_by_tier_and_junior_prepares_through_the_page():
    setup = source_trial_study(prefix="prep", n_cases=2, n_juniors=2, n_seniors=1)
    opened(setup)
    phases = dict(
        ReadingSession.objects.filter(study=setup.study).values_list("reader__username", "phase")
    )
    assert phases == {
        "prep-junior0": "preparation",
        "prep-junior1": "preparation",
        "prep-senior0": "blinded_review",
    }
    senior_session = ReadingSession.objects.get(reader=setup.seniors[0])
    # The senior's session waits for all its material, without saying which case waits.
    assert services.session_availability(session=senior_session).reason
    junior = setup.juniors[0]
    client = Client()
    client.force_login(junior)
    session = ReadingSession.objects.get(reader=junior)
    first = client.get(reverse("readers:session", kwargs={"session_id": session.pk}))
    page_url = first["Location"]
    page = client.get(page_url)
    assert page.status_code == 200
    body = page.content.decode()
    assert body.count("<video") == 2 and "data-pick-view" in body
    post = {"initial_severe": "yes", "client_event_id": str(uuid.uuid4())}
    for view, index in PICKS.items():
        post[f"frame_{view}" if index is not None else f"missing_{view}"] = (
            str(index + 1) if index is not None else "on"
        )
    bad = client.post(page_url, {**post, "frame_TVV": str(FRAMES + 1)})
    assert bad.status_code == 400 and not MaterialSet.objects.filter(source="junior").exists()
    done = client.post(page_url, post)
    assert done.status_code == 302
    again = client.post(page_url, post)  # the same submission again: nothing new
    assert again.status_code in (200, 302)
    material = MaterialSet.objects.get(source=MaterialSource.JUNIOR, author_user=junior)
    assert material.initial_severe is True and material.status == "complete"
    assert MaterialSet.objects.filter(source=MaterialSource.JUNIOR).count() == 1
    assert Read.objects.get(reader=junior).answer == {"picks": PICKS}
    # The rendition is the canonical one of the ORIGINAL video's frame.
    case = material.case
    rendition = material.renditions.get(view="TVV")
    asset = case.assets.get(orientation="coronal")
    with local_path(asset.file) as path:
        frame = read_frames(path, [4])[4]
    assert rendition.sha256 == media.render_view(frame).sha256
    assert material.renditions.get(view="RPSV").not_obtainable
    audit = AuditEvent.objects.filter(action="material.created", target_id=str(material.pk)).get()
    assert audit.after["source"] == "junior"


def test_ai_and_junior_renditions_have_the_same_format_dimensions_metadata_and_size():
    setup = source_trial_study(prefix="same", n_cases=2, n_juniors=1)
    opened(setup)
    prepare_all(setup)
    renditions = Rendition.objects.filter(material_set__isnull=False, not_obtainable=False)
    by_source = {"ai": [], "junior": []}
    for rendition in renditions.select_related("material_set"):
        data = rendition.file.read()
        rendition.file.close()
        by_source[rendition.material_set.source].append(
            (
                rendition.content_type,
                rendition.width,
                rendition.height,
                len(data),
                rendition.size_bytes,
                tuple(png_chunks(data)),
                data[16:29],
                rendition.file.name.rsplit(".", 1)[-1],
            )
        )
    assert by_source["ai"] and by_source["junior"]
    signatures = {row for rows in by_source.values() for row in rows}
    assert len(signatures) == 1, signatures
    (content_type, width, height, length, _stored, chunks, _ihdr, ext) = signatures.pop()
    assert (content_type, width, height, length) == (
        "image/png",
        media.CANVAS_WIDTH,
        media.CANVAS_HEIGHT,
        media.VIEW_BYTES,
    )
    assert chunks == (b"IHDR", b"IDAT", b"IEND") and ext == "png"


def test_guess_is_locked_before_the_diagnosis():
    setup = source_trial_study(prefix="lock", n_cases=2, n_juniors=1)
    opened(setup)
    prepare_all(setup)
    senior = setup.seniors[0]
    session = ReadingSession.objects.get(reader=senior, phase=SessionPhase.BLINDED_REVIEW)
    assignment = services.session_next_assignment(session=session)
    client = Client()
    client.force_login(senior)
    page = client.get(reverse("readers:case", kwargs={"token": assignment.token}))
    body = page.content.decode()
    assert 'id="guess-form"' in body and 'id="answer-form"' not in body
    assert body.count("<video") == 0  # only the material: never the case's sweeps
    # Diagnosis before the guess: refused by the page, the API and the service.
    read_url = reverse("readers:api-read", kwargs={"token": assignment.token})
    early = client.post(
        read_url,
        {
            "severe": True,
            "confidence": 50,
            "client_event_id": str(uuid.uuid4()),
            "extra": {"changes_initial": True},
        },
        content_type="application/json",
    )
    assert early.status_code == 403
    # A guess smuggled into the diagnosis is not a guess.
    services.assignment_serve(reader=senior, assignment=assignment)
    guess_url = reverse("readers:api-guess", kwargs={"token": assignment.token})
    event = str(uuid.uuid4())
    first = client.post(
        guess_url, {"guess": "ai", "client_event_id": event}, content_type="application/json"
    )
    assert first.status_code == 201 and first.json()["locked"]
    replay = client.post(
        guess_url, {"guess": "ai", "client_event_id": event}, content_type="application/json"
    )
    assert replay.status_code == 200
    second = client.post(
        guess_url,
        {"guess": "junior", "client_event_id": str(uuid.uuid4())},
        content_type="application/json",
    )
    assert second.status_code == 409
    page_second = client.post(
        reverse("readers:guess", kwargs={"token": assignment.token}),
        {"guess": "junior", "client_event_id": str(uuid.uuid4())},
    )
    assert page_second.status_code == 409
    guess = SourceGuess.objects.get(assignment=assignment)
    assert guess.guess == "ai"
    # The database itself refuses to change or delete a guess.
    with pytest.raises(DatabaseError), transaction.atomic():
        SourceGuess.objects.filter(pk=guess.pk).update(guess="junior")
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic():
            SourceGuess.objects.filter(pk=guess.pk).delete()
    smuggled = client.post(
        read_url,
        {
            "severe": True,
            "confidence": 50,
            "client_event_id": str(uuid.uuid4()),
            "extra": {"changes_initial": False, "source_guess": "junior"},
        },
        content_type="application/json",
    )
    assert smuggled.status_code == 400
    page = client.get(reverse("readers:case", kwargs={"token": assignment.token})).content.decode()
    assert 'id="answer-form"' in page and 'id="locked-guess"' in page and "changes_initial" in page
    assignment.refresh_from_db()  # a junior-sourced material is attached when served
    initial = assignment.material_set.initial_severe
    done = client.post(
        read_url,
        {
            "severe": not initial,
            "confidence": 50,
            "client_event_id": str(uuid.uuid4()),
            "extra": {"changes_initial": True},
        },
        content_type="application/json",
    )
    assert done.status_code == 201, done.content
    read = Read.objects.get(assignment=assignment)
    assert read.answer["source_guess"] == "ai" and read.answer["changes_initial"] is True
    assert AuditEvent.objects.filter(action="source.guessed").count() == 1


def test_review_material_is_the_allocated_one_and_analysis_sees_it():
    setup = source_trial_study(prefix="alloc", n_cases=4, n_juniors=2, n_seniors=1)
    opened(setup, seed=5)
    prepare_all(setup)
    senior = setup.seniors[0]
    reads = review_all(setup, senior)
    assert len(reads) == 4
    for read in reads:
        entry = Allocation.objects.get(senior=senior, case=read.assignment.case)
        material = read.assignment.material_set
        assert material.source == entry.source
        if entry.source == "junior":
            assert material.author_user_id == entry.junior_id
    from analysis.selectors import blinded_reviews_frame, study_cases_frame

    frame = blinded_reviews_frame(study=setup.study, cases=study_cases_frame(study=setup.study))
    assert len(frame) == 4 and set(frame["guess"]) == {"dont_know"}


def _zip(rows: list[dict[str, str]], files: dict[str, bytes]) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        archive.writestr("manifest.csv", text.getvalue())
        for name, data in files.items():
            archive.writestr(name, data)
    return SimpleUploadedFile("materials.zip", buffer.getvalue(), content_type="application/zip")


def test_import_of_material_prepared_elsewhere():
    import cv2

    setup = source_trial_study(prefix="imp", n_cases=2, n_juniors=1, ai=False)
    junior = setup.juniors[0]
    case = setup.cases[0]
    with local_path(case.assets.get(orientation="sagittal").file) as path:
        frame = read_frames(path, [3])[3]
    _ok, png = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    noise = np.random.default_rng(0).integers(0, 255, frame.shape, dtype=np.uint8)
    _ok, stranger = cv2.imencode(".png", noise)
    row = {
        "code": case.code,
        "author": junior.username,
        "initial_severe": "yes",
        "view_AHV": "2",
        "view_TVV": "",
        "view_BV": "8",
        "view_MSV": "views/msv.png",
        "view_RPSV": "",
        "view_LPSV": "",
    }
    client = Client()
    client.force_login(setup.coordinator)
    url = reverse("readers:materials-import", kwargs={"study_id": setup.study.pk})
    bad_rows = [row, {**row, "code": setup.cases[1].code, "view_MSV": "views/other.png"}]
    bad = client.post(
        url,
        {
            "archive": _zip(
                bad_rows, {"views/msv.png": png.tobytes(), "views/other.png": stranger.tobytes()}
            ),
            "source": "junior",
        },
    )
    assert bad.status_code == 400 and "not a frame" in bad.content.decode()
    assert not MaterialSet.objects.exists()
    done = client.post(
        url,
        {
            "archive": _zip([row], {"views/msv.png": png.tobytes()}),
            "source": "junior",
            "dry_run": "on",
        },
    )
    assert done.status_code == 200 and "Dry run: no problems" in done.content.decode()
    assert not MaterialSet.objects.exists()  # a dry run writes nothing
    api = reverse("readers:api-materials-import", kwargs={"study_id": setup.study.pk})
    done = client.post(
        api,
        {
            "archive": _zip([row], {"views/msv.png": png.tobytes()}),
            "source": "junior",
            "dry_run": "false",
        },
    )
    assert done.status_code == 200, done.content
    material = MaterialSet.objects.get()
    assert (material.source, material.author_user, material.initial_severe) == (
        "junior",
        junior,
        True,
    )
    msv = material.renditions.get(view="MSV")
    assert msv.frame_index == 3  # the image was located in its sweep
    assert msv.sha256 == media.render_view(frame).sha256
    assert material.renditions.get(view="BV").frame_index == 7
    assert material.renditions.get(view="TVV").not_obtainable


def test_qualitative_scores_the_ai_views():
    setup = source_trial_study(prefix="qual", n_cases=1, n_juniors=0, n_seniors=2)
    setup.study.design = StudyDesign.QUALITATIVE
    setup.study.save()
    services.session_create_for_design(actor=setup.coordinator, study=setup.study, seed=1)
    study_transition(actor=setup.coordinator, study=setup.study, to="open")
    rater = setup.seniors[0]
    session = ReadingSession.objects.get(reader=rater)
    assert session.phase == SessionPhase.QUALITATIVE
    assignment = session.assignments.get()
    client = Client()
    client.force_login(rater)
    page = client.get(reverse("readers:case", kwargs={"token": assignment.token})).content.decode()
    assert "view_correctness" in page and "clinical_value" in page
    url = reverse("readers:case", kwargs={"token": assignment.token})
    base = {
        "client_event_id": str(uuid.uuid4()),
        "view_correctness": "5",
        "detection_accuracy": "4",
        "anatomical_recognition": "4",
    }
    assert client.post(url, base).status_code == 400
    assert client.post(url, {**base, "clinical_value": "3"}).status_code == 302
    assert Read.objects.get(reader=rater).answer == {
        "scores": {
            "view_correctness": 5,
            "detection_accuracy": 4,
            "anatomical_recognition": 4,
            "clinical_value": 3,
        }
    }
    with pytest.raises(ValidationError):
        from readers.source_trial import _qualitative_answer

        _qualitative_answer(assignment, {"scores": {"view_correctness": 6}})
