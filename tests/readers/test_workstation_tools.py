"""The workstation's viewing tools in a real browser: icons with accessible names,
window/level by drag, frame step by key, caliper in millimetres where the spacing is known,
and the tool counts saved with the read (Playwright driving Debian's headless Chromium)."""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

from readers.models import Read
from readers.tool_use import TOOL_KEYS
from tests.conftest import wait_until_true
from tests.readers.factories import reading_study
from tests.readers.test_browser import answer_by_keyboard
from trials.models import Rendition, RenditionKind, RenditionPurpose

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIDEO = "[data-cine] video"


def open_case(page_for, live_server, prefix: str):
    setup = reading_study(n_cases=1, prefix=prefix)
    reader = setup.readers[0]
    page = page_for(reader)
    page.goto(
        live_server.url
        + reverse("readers:session", kwargs={"session_id": setup.session_of(reader).pk})
    )
    page.wait_for_selector("#answer-form")
    wait_until_true(
        page, f"[...document.querySelectorAll('{VIDEO}')].every(v => v.readyState >= 1)"
    )
    return setup, reader, page


def test_cine_and_tool_buttons_are_svg_icons_with_accessible_names(page_for, live_server):
    _setup, _reader, page = open_case(page_for, live_server, "icons")
    buttons = page.locator(".cine-controls button, .ws-tools button:not([hidden])")
    assert buttons.count() == 13
    for i in range(buttons.count()):
        button = buttons.nth(i)
        box = button.bounding_box()
        assert box is not None and box["width"] >= 16 and box["height"] >= 16
        assert button.inner_text().strip() == ""  # no font glyph that could render as a box
        icon = button.locator("svg.icon").filter(has=page.locator("use")).first
        icon_box = button.locator("svg.icon:visible").first.bounding_box()
        assert (
            icon.count() == 1
            and icon_box is not None
            and icon_box["width"] > 0
            and icon_box["height"] > 0
        )
        assert button.get_attribute("aria-label")
    for name in (
        "Play/pause",
        "Frame back",
        "Frame forward",
        "Slower",
        "Faster",
        "Loop",
        "Brightness/contrast (window/level)",
        "Pan",
        "Distance caliper",
        "Zoom in",
        "Zoom out",
        "Reset the view",
        "Keyboard shortcuts",
    ):
        assert page.get_by_role("button", name=name, exact=True).count() == 1, name
    # The symbols the icons use ship with the page.
    assert page.locator("svg.ws-sprite symbol").count() >= 13
    # The help panel lists the shortcuts and opens with "?".
    page.keyboard.press("?")
    assert page.locator("#ws-keys").evaluate("d => d.open")
    assert "distance caliper" in page.locator("#ws-keys").inner_text()


def test_window_level_zoom_frame_step_and_the_counts_saved_with_the_read(page_for, live_server):
    _setup, reader, page = open_case(page_for, live_server, "wl")
    video = page.locator(VIDEO).first
    assert video.get_attribute("data-fps") == "25"  # the rendition's own rate
    box = video.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    # Window/level: drag across (width) and down (level), as in OHIF.
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 60, y + 30, steps=5)
    page.mouse.up()
    assert int(video.get_attribute("data-window-width")) < 255
    assert int(video.get_attribute("data-window-level")) > 128
    assert video.evaluate("v => v.style.filter").startswith("url(")
    assert video.evaluate("v => v.paused")  # a drag is no click: it did not start the cine
    assert "W " in page.locator("[data-wl-readout]").inner_text()
    # Frame step with the arrow key: one frame at the sweep's rate.
    page.keyboard.press("ArrowRight")
    wait_until_true(page, f"document.querySelector('{VIDEO}').currentTime > 0.03")
    wait_until_true(page, "document.querySelector('[data-cine-frame]').textContent === '2'")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowRight")
    # Zoom by key, pan by Shift+drag, then reset.
    page.keyboard.press("+")
    assert float(video.get_attribute("data-zoom")) > 1
    page.keyboard.down("Shift")
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 20, y + 10, steps=3)
    page.mouse.up()
    page.keyboard.up("Shift")
    page.keyboard.press("r")
    assert video.get_attribute("data-window-width") == "255"
    assert video.get_attribute("data-zoom") == "1.00"
    assert video.evaluate("v => v.style.filter") == ""
    # Play and pause: one cine use.
    page.keyboard.press(" ")
    page.keyboard.press(" ")
    answer_by_keyboard(page, "70")
    read = Read.objects.get(reader=reader)
    assert set(read.tool_use) == set(TOOL_KEYS)
    assert read.tool_use == {
        "window_level": 1,
        "zoom": 1,
        "pan": 1,
        "frame_step": 3,
        "cine": 1,
        "caliper": 0,
        "reset": 1,
    }
    assert (read.severe, read.confidence) == (True, 70)  # nothing of the view state is stored


def _caliper_drag(page, selector: str, dx: float) -> None:
    page.keyboard.press("m")
    box = page.locator(selector).first.bounding_box()
    x, y = box["x"] + 1, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=4)
    page.mouse.up()


def test_caliper_measures_millimetres_where_the_spacing_is_known_else_pixels(page_for, live_server):
    setup, reader, page = open_case(page_for, live_server, "cal")
    Rendition.objects.filter(
        case__in=setup.cases, purpose=RenditionPurpose.CASE_MEDIA, kind=RenditionKind.IMAGE
    ).update(pixel_spacing_x_mm=0.1, pixel_spacing_y_mm=0.2)
    page.reload()
    page.wait_for_selector("#answer-form")
    wait_until_true(
        page, f"[...document.querySelectorAll('{VIDEO}')].every(v => v.readyState >= 1)"
    )
    assert page.locator(".ws-view img").first.get_attribute("data-spacing-x") == "0.1"
    page.keyboard.press("1")
    assert page.locator("#ws-lightbox").is_visible()
    assert page.locator("#ws-lightbox [data-view-tools]").count() == 1  # the tools came along
    big = page.locator("#ws-lightbox img")
    wait_until_true(page, "document.querySelector('#ws-lightbox img').naturalWidth > 0")
    # Zoomed ×2 the 32-pixel-wide image is 64 screen pixels wide: 40 screen px = 20 image px.
    page.keyboard.press("+")
    page.keyboard.press("+")
    page.keyboard.press("0")
    for _ in range(3):
        page.keyboard.press("+")  # 1.25³ ≈ 1.95
    zoom = float(big.get_attribute("data-zoom"))
    _caliper_drag(page, "#ws-lightbox img", 40)
    readout = page.locator("[data-caliper-readout]").inner_text()
    assert readout.endswith(" mm"), readout
    expected = 40 / zoom * 0.1
    assert abs(float(readout.split()[-2]) - expected) <= 0.15, (readout, expected)
    assert page.locator("#ws-lightbox .ws-caliper").count() == 1
    assert "mm" in page.locator("#ws-lightbox .ws-caliper-label").text_content()
    page.keyboard.press("Escape")
    assert page.locator(".ws-answer ~ [data-view-tools], .ws-cine [data-view-tools]").count() == 1
    # A sweep without calibration: pixels.
    _caliper_drag(page, VIDEO, 30)
    assert page.locator("[data-caliper-readout]").inner_text().endswith(" px")
    page.keyboard.press("w")
    answer_by_keyboard(page, "40")
    read = Read.objects.get(reader=reader)
    assert read.tool_use["caliper"] == 2
    assert read.tool_use["zoom"] == 5 and read.tool_use["reset"] == 1
