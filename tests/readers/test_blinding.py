"""Blinding and isolation: what a reader can fetch never tells him what he must not know.

The leak test logs in as a reader and visits every page and API endpoint he can reach
(following every link, form action, media source and URL in JSON), in each design and
phase, reading and answering every case through the pages and the API, and asserts that
no forbidden thing appears in any body, header, URL, file name or image metadata.
"""

from __future__ import annotations

import json
import re
import struct
import uuid
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from unittest import mock
from urllib.parse import urljoin, urlparse

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from readers import services
from readers.models import ReadingSession, SessionPhase
from readers.services import ReadAnswer
from tests.readers.factories import UserFactory, reading_study, tiny_png
from trials.models import Asset, AssetKind, Rendition, StudyDesign

pytestmark = pytest.mark.django_db

OTHER_COMMENT = "OTHER-READER-CANARY-ANSWER"
MODEL_LABEL = "NCLS-SecretModel-v9"
GOLD_CANARY = "GSQX7"  # Volpe grade field: a string only the gold standard holds
ORIGINAL_NAME = "DOE_BABY_2024-03-01_cranial.dcm"
AI_MARKERS = [
    re.compile(r"\bAI\b"),
    re.compile(r"\bai\b"),
    re.compile(r"probabilit", re.I),
    re.compile(r"heatmap", re.I),
    re.compile(r"artificial intelligence", re.I),
]
ALWAYS_FORBIDDEN_PATTERNS = [re.compile(r"\bgold\b", re.I), re.compile(r"ground.truth", re.I)]
SKIP_PREFIXES = ("/accounts/logout", "/admin", "/static/", "/i18n", "/api/schema", "/api/docs")
_ALLOWED_PNG_CHUNKS = {b"IHDR", b"IDAT", b"IEND", b"PLTE"}


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value and (
                name in ("href", "src", "action")
                or name.startswith("hx-")
                or (name.startswith("data-") and name.endswith("-url"))
            ):
                self.urls.append(value)


def _json_urls(value) -> list[str]:
    if isinstance(value, dict):
        return [u for v in value.values() for u in _json_urls(v)]
    if isinstance(value, list):
        return [u for v in value for u in _json_urls(v)]
    if isinstance(value, str) and value.startswith("/"):
        return [value]
    return []


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        chunks.append(data[offset + 4 : offset + 8])
        offset += 12 + length
    return chunks


class LeakAuditor:
    """Fetches as the reader, remembers everything seen, and checks every response."""

    def __init__(
        self, client: Client, forbidden: list[str], ai_forbidden: list[str], ai_bytes: bytes
    ) -> None:
        self.client = client
        self.forbidden = forbidden
        self.ai_forbidden = ai_forbidden
        self.ai_bytes = ai_bytes
        self.ai_allowed = False
        self.visited: dict[str, int] = {}
        self.media_seen = 0

    def _strings_forbidden(self) -> list[str]:
        return self.forbidden + ([] if self.ai_allowed else self.ai_forbidden)

    def check_text(self, where: str, text: str) -> None:
        # The design's name ("AI-assisted crossover") is what the reader consented to,
        # not anything of a case; the home page lists it. Everything else is checked.
        for design in StudyDesign:
            text = text.replace(str(design.label), "")
        lowered = text.lower()
        for needle in self._strings_forbidden():
            assert needle.lower() not in lowered, f"{needle!r} leaks in {where}"
        for pattern in ALWAYS_FORBIDDEN_PATTERNS + ([] if self.ai_allowed else AI_MARKERS):
            match = pattern.search(text)
            assert match is None, f"{pattern.pattern!r} ({match.group(0)!r}) leaks in {where}"

    def check(self, url: str, response) -> None:
        self.check_text(f"URL {url}", url)
        for header, value in response.items():
            self.check_text(f"header {header} of {url}", f"{header}: {value}")
        assert "Content-Disposition" not in response, f"file name header on {url}"
        body = b"".join(response.streaming_content) if response.streaming else response.content
        content_type = response.get("Content-Type", "")
        if "/view/" in url and response.status_code in (200, 206):
            self.media_seen += 1
            assert response["Cache-Control"] == "private, no-store"
            assert "ETag" not in response and "Last-Modified" not in response
            assert content_type in ("image/png", "video/mp4")
            if content_type == "image/png":
                assert set(png_chunks(body)) <= _ALLOWED_PNG_CHUNKS, f"metadata chunk in {url}"
                if not self.ai_allowed:
                    assert body != self.ai_bytes, (
                        f"the AI's image is served outside the aided phase: {url}"
                    )
            for needle in self._strings_forbidden():
                assert needle.encode() not in body, f"{needle!r} in the bytes of {url}"
            return
        self.check_text(f"body of {url}", body.decode("utf-8", errors="replace"))

    def get(self, url: str, **kwargs):
        response = self.client.get(url, **kwargs)
        self.visited[url] = response.status_code
        self.check(url, response)
        return response

    def send(self, method: str, url: str, data=None, **kwargs):
        response = getattr(self.client, method)(url, data=data, **kwargs)
        self.check(url, response)
        return response

    def crawl(self, *starts: str, limit: int = 400) -> None:
        queue, seen = list(starts), set[str]()
        while queue and len(seen) < limit:
            url = queue.pop(0)
            path = urlparse(url).path
            if path in seen or not path.startswith("/") or path.startswith(SKIP_PREFIXES):
                continue
            if path.endswith(("/draft/", "/activity/", "/revise/", "/read/", "/next/")):
                continue  # POST-only actions: exercised explicitly
            seen.add(path)
            response = self.get(path)
            if response.status_code in (301, 302):
                queue.append(urljoin(path, response["Location"]))
                continue
            content_type = response.get("Content-Type", "")
            if response.streaming:
                continue
            if "html" in content_type:
                parser = _Links()
                parser.feed(response.content.decode())
                queue.extend(urljoin(path, u) for u in parser.urls)
            elif "json" in content_type and response.content:
                queue.extend(_json_urls(json.loads(response.content)))


def _forbidden_for(setup, other_reads) -> tuple[list[str], list[str]]:
    forbidden = [
        MODEL_LABEL,
        "NCLS",
        GOLD_CANARY,
        ORIGINAL_NAME,
        OTHER_COMMENT,
        "LOGIQ-CANARY",
        "CASE-GA-CANARY",
    ]
    ai_forbidden: list[str] = []
    for case in setup.cases:
        forbidden += [
            case.code,
            str(case.pk),
            case.pk.hex,
            str(case.gold_standard.pk),
            str(case.dataset.pk),
            case.dataset.name,
        ]
        for material in case.material_sets.all():
            forbidden += [str(material.pk), material.pk.hex, str(material.author_model_id)]
        for rendition in Rendition.objects.filter(case=case):
            forbidden += [
                str(rendition.pk),
                rendition.pk.hex,
                rendition.file.name or str(rendition.pk),
            ]
        for asset in case.assets.all():
            forbidden += [str(asset.pk), asset.pk.hex]
    for read in other_reads:
        forbidden += [str(read.pk), str(read.client_event_id), read.assignment.token]
    return forbidden, ai_forbidden


def _decorate_cases(setup) -> None:
    """Give the cases things a reader must never see: metadata, upload names, gold."""
    for case in setup.cases:
        case.manufacturer = "LOGIQ-CANARY"
        case.probe_type = "CASE-GA-CANARY"
        case.save()
        case.gold_standard.volpe_grade = GOLD_CANARY
        case.gold_standard.save()
        asset = Asset.objects.create(
            case=case,
            kind=AssetKind.SWEEP_VIDEO,
            orientation="coronal",
            file=ContentFile(b"raw upload", name="raw"),
            media_format="mp4",
            original_name=ORIGINAL_NAME,
            sha256="0" * 64,
            size_bytes=10,
            width=32,
            height=24,
        )
        # Uploaded with the case, before its sessions were made (a session's media are fixed then).
        Asset.objects.filter(pk=asset.pk).update(created=case.created)
        Rendition.objects.filter(
            case=case, kind="video", orientation="coronal", material_set__isnull=True
        ).update(asset=asset)
        case.material_sets.update(author_model_label=MODEL_LABEL)


def _other_reader_reads(setup, reader) -> list:
    reads = []
    for phase in (SessionPhase.UNAIDED,):
        session = setup.session_of(reader, phase)
        while (assignment := services.session_next_assignment(session=session)) is not None:
            services.assignment_serve(reader=reader, assignment=assignment)
            reads.append(
                services.read_submit(
                    reader=reader,
                    assignment=assignment,
                    answer=ReadAnswer(severe=True, confidence=99, comment=OTHER_COMMENT),
                    client_event_id=uuid.uuid4(),
                )
            )
    # A draft of the other reader's on a session he has not finished.
    return reads


def _read_session(auditor: LeakAuditor, session: ReadingSession) -> None:
    """Read every case of a session through the pages and the API, checking everything."""
    start = reverse("readers:session", kwargs={"session_id": session.pk})
    index = 0
    while True:
        response = auditor.get(start)
        if response.status_code != 302:
            break
        case_url = response["Location"]
        assert case_url.startswith("/read/"), case_url
        auditor.crawl(case_url, reverse("readers:api-sessions"))
        token = case_url.rstrip("/").split("/")[-1]
        api = auditor.get(reverse("readers:api-assignment", kwargs={"token": token}))
        assert api.status_code == 200, api.content
        json_body = {"content_type": "application/json"}
        auditor.send(
            "post",
            reverse("readers:draft", kwargs={"token": token}),
            json.dumps({"severe": True, "comment": "mine"}),
            **json_body,
        )
        auditor.send(
            "post",
            reverse("readers:activity", kwargs={"token": token}),
            json.dumps({"kind": "hidden"}),
            **json_body,
        )
        auditor.send(
            "post",
            reverse("readers:api-activity", kwargs={"token": token}),
            json.dumps({"kind": "visible"}),
            **json_body,
        )
        auditor.send(
            "put",
            reverse("readers:api-draft", kwargs={"token": token}),
            json.dumps({"confidence": 40}),
            **json_body,
        )
        event_id = str(uuid.uuid4())
        if index % 2 == 0:
            done = auditor.send(
                "post", case_url, {"severe": "no", "confidence": "30", "client_event_id": event_id}
            )
            assert done.status_code == 302, done.content
        else:
            payload = json.dumps({"severe": False, "confidence": 30, "client_event_id": event_id})
            url = reverse("readers:api-read", kwargs={"token": token})
            first = auditor.send("post", url, payload, **json_body)
            retry = auditor.send("post", url, payload, **json_body)
            assert (first.status_code, retry.status_code) == (201, 200)
            assert first.json() == retry.json()
        # Once answered, the case and its media are gone for the reader (no revisits).
        assert auditor.get(case_url).status_code == 302
        for media_url in [u for u in auditor.visited if u.startswith(f"/read/{token}/view/")]:
            assert auditor.get(media_url).status_code == 404
        index += 1
    assert index == len(session.case_order)


@pytest.mark.parametrize("design", [StudyDesign.STANDALONE, StudyDesign.ASSISTED_CROSSOVER])
def test_reader_sees_nothing_forbidden(design):
    setup = reading_study(design=design, n_cases=3, n_readers=2, prefix="leak")
    _decorate_cases(setup)
    reader, other = setup.readers
    other_reads = _other_reader_reads(setup, other)
    forbidden, ai_forbidden = _forbidden_for(setup, other_reads)
    client = Client()
    client.force_login(reader)
    auditor = LeakAuditor(client, forbidden, ai_forbidden, tiny_png(120))
    static_js = (Path(settings.BASE_DIR) / "static/js/workstation.js").read_text()
    auditor.check_text("workstation.js", static_js)

    # Pages of the coordinator are not the reader's: refused, and the refusal leaks nothing.
    for name in (
        "readers:coordinate",
        "readers:progress",
        "readers:api-study-progress",
        "readers:api-study-sessions",
        "readers:api-study-readers",
    ):
        assert auditor.get(reverse(name, kwargs={"study_id": setup.study.pk})).status_code in (
            403,
            404,
        )
    auditor.crawl(
        reverse("readers:worklist"),
        reverse("readers:api-sessions"),
        reverse("readers:api-reads"),
        "/",
    )
    unaided = setup.session_of(reader)
    _read_session(auditor, unaided)
    auditor.crawl(
        reverse("readers:worklist"),
        reverse("readers:api-reads"),
        reverse("readers:api-session", kwargs={"session_id": unaided.pk}),
    )
    assert auditor.media_seen >= 3 * 8
    if design != StudyDesign.ASSISTED_CROSSOVER:
        return
    aided = setup.session_of(reader, SessionPhase.AIDED)
    refused = auditor.get(reverse("readers:session", kwargs={"session_id": aided.pk}))
    assert refused.status_code == 403
    next_api = auditor.send(
        "post", reverse("readers:api-session-next", kwargs={"session_id": aided.pk})
    )
    assert next_api.status_code == 403 and next_api.json()["opens_at"]
    later = timezone.now() + timedelta(days=setup.study.washout_days, hours=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        client.force_login(reader)  # the session cookie of a month ago has expired
        auditor.ai_allowed = True
        before = auditor.media_seen
        _read_session(auditor, aided)
        assert auditor.media_seen - before >= 3 * 13  # case views, sweeps and the AI's views
        auditor.crawl(reverse("readers:worklist"), reverse("readers:api-reads"))


def test_two_studies_are_isolated():
    first = reading_study(n_cases=2, n_readers=1, prefix="one")
    second = reading_study(
        design=StudyDesign.ASSISTED_CROSSOVER, n_cases=2, n_readers=1, prefix="two"
    )
    outsider = first.readers[0]
    # The reader of the first study reaches nothing of the second.
    client = Client()
    client.force_login(outsider)
    theirs = second.session_of(second.readers[0])
    token = theirs.assignments.first().token
    for url in (
        reverse("readers:session", kwargs={"session_id": theirs.pk}),
        reverse("readers:case", kwargs={"token": token}),
        reverse("readers:api-assignment", kwargs={"token": token}),
        reverse("readers:api-session", kwargs={"session_id": theirs.pk}),
        reverse("readers:coordinate", kwargs={"study_id": second.study.pk}),
        reverse("readers:api-study-progress", kwargs={"study_id": second.study.pk}),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("readers:api-read", kwargs={"token": token}), {}).status_code == 404
    listed = client.get(reverse("readers:api-sessions")).json()
    assert [row["id"] for row in listed] == [str(first.session_of(outsider).pk)]
    # The coordinator of the first study sees only its own sessions and cases.
    coordinator = Client()
    coordinator.force_login(first.coordinator)
    assert (
        coordinator.get(
            reverse("readers:progress", kwargs={"study_id": second.study.pk})
        ).status_code
        == 404
    )
    body = coordinator.get(
        reverse("readers:progress", kwargs={"study_id": first.study.pk})
    ).content.decode()
    assert "ONE-CODE-000" in body and "TWO-CODE-000" not in body
    # Nothing of one study can be put into the other's sessions.
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.session_create_for_design(
            actor=first.coordinator, study=first.study, datasets=list(second.study.datasets.all())
        )
    with pytest.raises(ValidationError):
        services.session_create_for_design(
            actor=first.coordinator, study=first.study, readers=[second.readers[0]]
        )
    assert ReadingSession.objects.filter(study=first.study).count() == 1


def test_coordinator_pages_and_api_enrol_and_create_sessions():
    setup = reading_study(n_cases=2, n_readers=0, prefix="coord")
    client = Client()
    client.force_login(setup.coordinator)
    newcomer = UserFactory(username="coord-newcomer")
    page = reverse("readers:coordinate", kwargs={"study_id": setup.study.pk})
    assert client.get(page).status_code == 200
    response = client.post(
        page,
        {
            "enrol-username": "coord-newcomer",
            "enrol-tier": "senior",
            "enrol-years_experience": "12",
        },
    )
    assert response.status_code == 302
    assert setup.study.memberships.get(user=newcomer, role="reader").tier == "senior"
    api = reverse("readers:api-study-readers", kwargs={"study_id": setup.study.pk})
    other = UserFactory(username="coord-other")
    assert (
        client.post(
            api, {"username": other.username, "tier": "mid_level"}, content_type="application/json"
        ).status_code
        == 202
    )
    assert setup.study.memberships.get(user=other, role="reader").tier == "mid_level"
    dataset = setup.study.datasets.get()
    response = client.post(page, {"sessions-datasets": [str(dataset.pk)], "sessions-seed": "3"})
    assert response.status_code == 302
    assert ReadingSession.objects.filter(study=setup.study).count() == 2
    progress = client.get(
        reverse("readers:api-study-progress", kwargs={"study_id": setup.study.pk})
    ).json()
    assert {row["done"] for row in progress["sessions"]} == {0}
    assert len(progress["cases"]) == 2
    assert (
        client.get(reverse("readers:progress", kwargs={"study_id": setup.study.pk})).status_code
        == 200
    )
