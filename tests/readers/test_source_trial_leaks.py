"""Before unblinding, nothing a senior or a statistician can reach reveals a material's source.

Extends the leak crawl of ``test_blinding``: the senior crawls every page and API he can
reach while he completes his blinded review (pages for half the cases, API for the rest);
the statistician crawls every page and API of his. Forbidden: the AI's model label and
probability, the junior authors' names, material and rendition ids, case codes (for the
senior), the allocation, and any source marker beyond the guess form's fixed choices.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile

import pytest
from django.test import Client
from django.urls import reverse

from readers import services
from readers.models import ReadingSession, SessionPhase
from tests.readers.factories import PASSWORD as READER_PASSWORD
from tests.readers.source_trial_setup import MODEL_LABEL, PROBABILITY, source_trial_study
from tests.readers.test_blinding import LeakAuditor
from tests.readers.test_source_trial import opened, prepare_all
from tests.trials.factories import signature_for
from trials.models import AllocationList, MaterialSet, Rendition, StudyStatus
from trials.services import study_transition

pytestmark = pytest.mark.django_db

#: The senior's own guess form and locked guess are the same on every case; they are
#: checked for sameness and then set aside, like the design's name in test_blinding.
_GUESS_FORM = re.compile(r'<form method="post" id="guess-form".*?</form>', re.S)
_LOCKED = re.compile(r'<p class="ws-locked-guess".*?</p>', re.S)
_VOLATILE = re.compile(
    r'(name="csrfmiddlewaretoken" value="|name="client_event_id" value="|action="/read/)[^"/]*'
)
#: The senior's own guess, echoed back to him in JSON, is his answer, not the source.
_OWN_GUESS = re.compile(r'"(source_)?guess"\s*:\s*"(ai|junior|dont_know)"')
SOURCE_JSON = re.compile(
    r'"(source|author|author_model_label|initial_probability|probability)"\s*:'
)


class ReviewAuditor(LeakAuditor):
    """The leak auditor of test_blinding, aware of the guess form."""

    guess_forms: set[str]
    staff = False

    def check_text(self, where: str, text: str) -> None:
        forms = [_VOLATILE.sub(r"\1", f) for f in _GUESS_FORM.findall(text)]
        self.guess_forms.update(forms)
        text = _OWN_GUESS.sub("", _LOCKED.sub("", _GUESS_FORM.sub("", text)))
        if self.staff:
            # A statistician sees the gold standard and the AI's own reports; what he
            # must not see before unblinding is which material a review showed.
            lowered = text.lower()
            for needle in self.forbidden:
                assert needle.lower() not in lowered, f"{needle!r} leaks in {where}"
        else:
            super().check_text(where, text)
        match = SOURCE_JSON.search(text)
        assert match is None, f"{match.group(0)!r} leaks in {where}"

    def check(self, url: str, response):
        if not self.staff:
            return super().check(url, response)
        self.check_text(f"URL {url}", url)
        for header, value in response.items():
            self.check_text(f"header {header} of {url}", f"{header}: {value}")
        body = b"".join(response.streaming_content) if response.streaming else response.content
        if body[:2] == b"PK":  # an export: every file inside it
            with zipfile.ZipFile(io.BytesIO(body)) as archive:
                for name in archive.namelist():
                    self.check_text(
                        f"{name} in {url}", name + archive.read(name).decode("utf-8", "replace")
                    )
            return body
        self.check_text(f"body of {url}", body.decode("utf-8", errors="replace"))
        return body


def _forbidden(setup) -> list[str]:
    forbidden = [
        MODEL_LABEL,
        "NCLS",
        str(PROBABILITY),
        "0.873",
        *(j.username for j in setup.juniors),
    ]
    for material in MaterialSet.objects.filter(case__study=setup.study):
        forbidden += [str(material.pk), material.pk.hex]
    for rendition in Rendition.objects.filter(case__study=setup.study, material_set__isnull=False):
        forbidden += [str(rendition.pk), rendition.pk.hex]
    allocation = AllocationList.objects.get(study=setup.study)
    forbidden += [
        str(allocation.pk),
        allocation.document[:60],
        str(allocation.seed),
        json.loads(allocation.document)["nonce"],
    ]
    return forbidden


def test_senior_and_statistician_learn_no_source_before_unblinding():
    setup = source_trial_study(prefix="leak", n_cases=3, n_juniors=2, n_seniors=1)
    opened(setup, seed=8)
    prepare_all(setup)
    senior, statistician = setup.seniors[0], setup.statistician
    forbidden = _forbidden(setup)
    senior_forbidden = forbidden + [c.code for c in setup.cases] + [str(c.pk) for c in setup.cases]

    client = Client()
    client.force_login(senior)
    auditor = ReviewAuditor(client, senior_forbidden, [], b"")
    auditor.guess_forms = set()
    for name in (
        "readers:source-trial",
        "analysis:blinding-audit",
        "readers:api-allocation",
        "analysis:api-blinding-audit",
        "readers:materials-import",
    ):
        assert auditor.get(reverse(name, kwargs={"study_id": setup.study.pk})).status_code in (
            403,
            404,
        )
    auditor.crawl(reverse("readers:worklist"), reverse("readers:api-sessions"), "/")
    session = ReadingSession.objects.get(reader=senior, phase=SessionPhase.BLINDED_REVIEW)
    json_body = {"content_type": "application/json"}
    index = 0
    while True:
        response = auditor.get(reverse("readers:session", kwargs={"session_id": session.pk}))
        if response.status_code != 302:
            break
        case_url = response["Location"]
        token = case_url.rstrip("/").split("/")[-1]
        auditor.crawl(case_url)
        api = auditor.get(reverse("readers:api-assignment", kwargs={"token": token}))
        assert api.json()["form_gate"] and set(api.json()["material"]) == {"initial_severe"}
        guess = ("ai", "junior", "dont_know")[index % 3]
        if index % 2 == 0:
            locked = auditor.send(
                "post",
                reverse("readers:guess", kwargs={"token": token}),
                {"guess": guess, "client_event_id": str(uuid.uuid4())},
            )
            assert locked.status_code == 302
            auditor.crawl(case_url)
            done = auditor.send(
                "post",
                case_url,
                {
                    "severe": "yes",
                    "confidence": "60",
                    "changes_initial": "yes",
                    "client_event_id": str(uuid.uuid4()),
                },
            )
            assert done.status_code == 302, done.content.decode()[-2000:]
        else:
            locked = auditor.send(
                "post",
                reverse("readers:api-guess", kwargs={"token": token}),
                json.dumps({"guess": guess, "client_event_id": str(uuid.uuid4())}),
                **json_body,
            )
            assert locked.status_code == 201
            done = auditor.send(
                "post",
                reverse("readers:api-read", kwargs={"token": token}),
                json.dumps(
                    {
                        "severe": False,
                        "confidence": 20,
                        "client_event_id": str(uuid.uuid4()),
                        "extra": {"changes_initial": False},
                    }
                ),
                **json_body,
            )
            assert done.status_code == 201, done.content
        index += 1
    assert index == 3
    auditor.crawl(reverse("readers:worklist"), reverse("readers:api-reads"), "/")
    assert auditor.media_seen >= 3 * 4
    assert len(auditor.guess_forms) == 1  # the same guess form on every case

    # The statistician, while the study is open and once it is locked.
    for status in (StudyStatus.OPEN, StudyStatus.LOCKED):
        if status == StudyStatus.LOCKED:
            study_transition(
                actor=setup.coordinator,
                study=setup.study,
                to="locked",
                signature=signature_for(setup.coordinator, password=READER_PASSWORD),
            )
        stats = Client()
        stats.force_login(statistician)
        stats_auditor = ReviewAuditor(stats, forbidden, [], b"")
        stats_auditor.guess_forms = set()
        stats_auditor.staff = True
        study_id = setup.study.pk
        for name in (
            "readers:source-trial",
            "analysis:blinding-audit",
            "readers:api-allocation",
            "readers:progress",
            "readers:api-study-progress",
        ):
            assert stats_auditor.get(reverse(name, kwargs={"study_id": study_id})).status_code in (
                403,
                404,
            )
        for url in (
            f"/api/studies/{study_id}/materials/",
            f"/api/studies/{study_id}/audit/",
            reverse("analysis:report", kwargs={"study_id": study_id, "key": "blinded"}),
        ):
            assert stats_auditor.get(url).status_code in (403, 404), url
        stats_auditor.crawl(
            "/",
            reverse("trials:study", kwargs={"study_id": study_id}),
            f"/api/studies/{study_id}/cases/",
            *(f"/api/studies/{study_id}/cases/{c.pk}/" for c in setup.cases),
            reverse("analysis:index", kwargs={"study_id": study_id}),
        )
        assert len(stats_auditor.visited) > 5
    # Nothing was disclosed by any of this.
    assert services.session_next_assignment(session=session) is None
