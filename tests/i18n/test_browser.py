"""A reader switches the workstation to Chinese and reads a case (Playwright, headless Chromium)."""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

from preferences.models import UserPreference
from readers.models import Read
from tests.conftest import wait_until_true
from tests.readers.factories import reading_study

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_reader_switches_to_chinese_and_reads_a_case(page_for, live_server):
    setup = reading_study(n_cases=2, prefix="zh")
    reader = setup.readers[0]
    page = page_for(reader)  # the browser's language is English
    page.goto(live_server.url + reverse("readers:worklist"))
    assert page.locator("h1").inner_text() == "Your reading sessions"

    with page.expect_navigation():
        page.locator("#language-switch").get_by_role("button", name="简体中文").click()
    assert page.url.endswith(reverse("readers:worklist"))
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert page.locator("h1").inner_text() == "您的阅片任务"
    assert UserPreference.objects.get(user=reader).language == "zh-hans"

    with page.expect_navigation():
        page.get_by_role("link", name="开始").click()
    page.wait_for_selector("#answer-form")
    # The workstation in Chinese: headings, form labels, clinical terms, buttons, shortcuts.
    assert page.locator(".ws-views h2").inner_text() == "第 1 例，共 2 例"
    assert page.locator(".ws-views").get_attribute("aria-label") == "标准切面"
    form = page.locator("#answer-form")
    form_text = form.inner_text()
    for text in (
        "重度",
        "是（Y）",
        "判断为重度的置信度（0–100，C）",
        "影像所见",
        "脑室内出血（IVH）",
        "脑室周围白质软化（PVL）",
        "脑室扩张",
        "脑积水",
        "IVH 分级（Papile）",
        "备注",
    ):
        assert text in form_text, text
    assert page.locator("#submit-next").inner_text() == "提交并进入下一例（Enter）"
    assert "键盘快捷键" in page.locator(".ws-keys summary").inner_text()
    assert page.locator('[data-cine-action="toggle"]').get_attribute("title") == "播放/暂停（空格）"

    # Findings by mouse; the draft autosave reports in Chinese (the JavaScript catalog loaded
    # under the CSP), then severe, confidence and submit by keyboard, as in English.
    form.get_by_label("脑室内出血（IVH）").check()
    form.get_by_label("IVH 分级（Papile）").select_option("3")
    wait_until_true(
        page, "document.querySelector('[data-draft-status]').textContent === '草稿已保存 ✓'"
    )
    page.keyboard.press("Escape")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("y")
    page.keyboard.press("c")
    page.keyboard.type("85")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    page.wait_for_selector("#answer-form")
    assert page.locator(".ws-views h2").inner_text() == "第 2 例，共 2 例"
    read = Read.objects.get(reader=reader)
    assert (read.severe, read.confidence, list(read.conditions), read.ivh_grade) == (
        True,
        85,
        ["ivh"],
        3,
    )
