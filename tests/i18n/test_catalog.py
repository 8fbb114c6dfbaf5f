"""Every string a user reads is marked for translation and translated into Simplified Chinese,
and the compiled catalogs in the repository are those of the PO files.

The extraction runs Django's ``makemessages`` (GNU xgettext) over a temporary copy of the
sources, so the repository's catalogs are never touched; a string added anywhere without a
translation fails here, with its text and place. ``make messages`` refreshes the catalogs.
"""

from __future__ import annotations

import gettext
import os
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

from tests.conftest import skip_or_fail
from tests.i18n.po import Entry, read_po
from tests.i18n.scan import ROOT, bare_template_text, unmarked_python_strings

LOCALE = ROOT / "locale"
CATALOG_DIR = LOCALE / "zh_Hans" / "LC_MESSAGES"
#: What is extracted: the apps' Python, the templates and our own JavaScript (not vendored
#: minified libraries). The same sources as the Makefile's ``messages`` target.
SOURCES = (
    "trials",
    "readers",
    "inference",
    "analysis",
    "config",
    "preferences",
    "templates",
    "static/js",
)
SOURCE_SUFFIXES = {".py", ".html", ".txt", ".js"}


def _copy_sources(target: Path) -> None:
    for top in SOURCES:
        for path in (ROOT / top).rglob("*"):
            if (
                path.is_file()
                and path.suffix in SOURCE_SUFFIXES
                and not path.name.endswith(".min.js")
                and "__pycache__" not in path.parts
            ):
                dest = target / path.relative_to(ROOT)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)


@pytest.fixture(scope="module")
def fresh_extraction(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Entry]]:
    """``makemessages`` over a copy of the sources: the msgids the code asks for today."""
    if not shutil.which("xgettext"):
        skip_or_fail("GNU gettext (xgettext) is not installed")
    work = tmp_path_factory.mktemp("extraction")
    _copy_sources(work)
    (work / "locale").mkdir()
    cwd = os.getcwd()
    os.chdir(work)
    try:
        with override_settings(LOCALE_PATHS=[work / "locale"]):
            call_command("makemessages", locale=["zh_Hans"], verbosity=0, no_obsolete=True)
            call_command("makemessages", locale=["zh_Hans"], domain="djangojs", verbosity=0)
    finally:
        os.chdir(cwd)
    out = work / "locale" / "zh_Hans" / "LC_MESSAGES"
    return {domain: read_po(out / f"{domain}.po") for domain in ("django", "djangojs")}


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_extracted_string_has_a_chinese_translation(fresh_extraction, domain: str) -> None:
    committed = {e.key: e for e in read_po(CATALOG_DIR / f"{domain}.po") if not e.obsolete}
    missing = []
    for entry in fresh_extraction[domain]:
        have = committed.get(entry.key)
        if (
            have is None
            or not have.translated
            or (entry.msgid_plural and have.msgid_plural != entry.msgid_plural)
        ):
            where = entry.references[0] if entry.references else "?"
            missing.append(f"{where}: {entry.msgid[:100]!r}")
    assert fresh_extraction[domain], "the extraction found no string at all"
    assert not missing, (
        f"{len(missing)} string(s) without a zh-hans translation in locale/zh_Hans/LC_MESSAGES/{domain}.po "
        "(run `make messages`, translate, commit the .po and .mo):\n" + "\n".join(missing)
    )


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_compiled_catalog_matches_its_po_file(domain: str) -> None:
    """The .mo in the repository (CI does not compile) holds exactly the .po's translations."""
    entries = [e for e in read_po(CATALOG_DIR / f"{domain}.po") if not e.obsolete and e.translated]
    with open(CATALOG_DIR / f"{domain}.mo", "rb") as handle:
        compiled = dict(gettext.GNUTranslations(handle)._catalog)  # type: ignore[attr-defined]
    compiled.pop("", None)  # the header
    expected: dict[object, str] = {}
    for e in entries:
        msgid = f"{e.msgctxt}\x04{e.msgid}" if e.msgctxt is not None else e.msgid
        if e.msgid_plural is not None:
            for index, text in e.msgstr.items():
                expected[(msgid, index)] = text
        else:
            expected[msgid] = e.msgstr[0]
    stale = sorted(str(k)[:80] for k in expected.keys() ^ compiled.keys())
    changed = sorted(
        str(k)[:80] for k in expected.keys() & compiled.keys() if expected[k] != compiled[k]
    )
    assert not stale and not changed, (
        f"locale/zh_Hans/LC_MESSAGES/{domain}.mo is out of date with its .po (run `make messages`): "
        f"{stale[:10]} {changed[:10]}"
    )


def test_placeholders_survive_translation() -> None:
    """A translation keeps every %(name)s / %s of its msgid (a lost one raises at runtime)."""
    import re

    placeholder = re.compile(r"%(?:\([a-z_]+\))?[sdrf%]")
    wrong = []
    for domain in ("django", "djangojs"):
        for e in read_po(CATALOG_DIR / f"{domain}.po"):
            if not e.translated or ("python-format" not in e.flags and "%" not in e.msgid):
                continue
            want = sorted(placeholder.findall(e.msgid_plural or e.msgid))
            for text in e.msgstr.values():
                if sorted(placeholder.findall(text)) != want:
                    wrong.append(f"{e.msgid[:60]!r} -> {text[:60]!r}")
    assert not wrong, "\n".join(wrong)


def test_python_strings_shown_to_users_are_marked_for_translation() -> None:
    found = unmarked_python_strings()
    assert not found, "user-facing strings not wrapped in gettext()/gettext_lazy():\n" + "\n".join(
        found
    )


def test_templates_have_no_bare_english_text() -> None:
    found = bare_template_text()
    assert not found, "template text outside {% translate %}/{% blocktranslate %}:\n" + "\n".join(
        found
    )


def test_the_scans_catch_what_they_are_for(tmp_path: Path) -> None:
    """The template scan is not vacuous: bare text is found, translated text and the
    allow-list are not."""
    (tmp_path / "t.html").write_text(
        '{% load i18n %}<h1>Fontanelle</h1><p title="Bare title">{% translate "Fine" %}</p>'
        "<p>{% blocktranslate %}Also {{ x }} fine{% endblocktranslate %} · CSV · {{ value }}</p>"
        "<p>Severe findings</p><script>var notText = 1;</script>",
        encoding="utf-8",
    )
    found = bare_template_text(tmp_path)
    assert found == ["t.html: Bare title", "t.html: Severe findings"]


#: The paper's clinical vocabulary (locale/GLOSSARY.md): each term has one translation.
GLOSSARY = {
    "Intraventricular haemorrhage (IVH)": "脑室内出血（IVH）",
    "Periventricular leukomalacia (PVL)": "脑室周围白质软化（PVL）",
    "Ventricular dilation": "脑室扩张",
    "Hydrocephalus": "脑积水",
    "Ependymal cyst": "室管膜下囊肿",
    "Papile grade": "Papile 分级",
    "Severe": "重度",
    "severe,non-severe": "重度,非重度",
    "Standard views": "标准切面",
    "Coronal": "冠状切面",
    "Sagittal": "矢状切面",
    "Reader": "阅片者",
    "Junior": "初级医师",
    "Mid-level": "中级医师",
    "Senior": "高级医师",
    "Washout": "洗脱期",
    "Unblind": "揭盲",
    "Gold standard": "金标准",
}


def test_clinical_terms_follow_the_glossary() -> None:
    catalog = {e.msgid: e.msgstr.get(0, "") for e in read_po(CATALOG_DIR / "django.po")}
    wrong = {k: catalog.get(k) for k, v in GLOSSARY.items() if catalog.get(k) != v}
    assert not wrong, wrong
    glossary = (LOCALE / "GLOSSARY.md").read_text(encoding="utf-8")
    terms = [term for v in GLOSSARY.values() for term in v.split("（")[0].split(",")]
    assert [t for t in terms if t not in glossary] == []
