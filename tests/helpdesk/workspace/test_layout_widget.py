"""No widget view scrolls sideways or sits off the screen, at 1280x800 and on a phone (390x844):
the demo portal page, the launcher, and the open panel with each of its views."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext

from tests.helpdesk.widget.conftest import WidgetWorld, widget_world  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
PANEL = "iframe[title='Practice Helpdesk help panel']"
FITS = "[document.documentElement.scrollWidth, window.innerWidth]"
WIDEST = """() => Array.from(document.querySelectorAll('body *'))
  .filter(el => el.getBoundingClientRect().right > innerWidth + 1 && !Array.from(el.children).some(
     c => c.getBoundingClientRect().right > innerWidth + 1))
  .slice(0, 6).map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') + ' ' +
     Math.round(el.getBoundingClientRect().right))"""


@pytest.fixture
def context(browser: Browser, widget_world: WidgetWorld) -> Iterator[BrowserContext]:  # noqa: F811
    opened = browser.new_context(base_url=widget_world.server.url)
    opened.set_default_timeout(15_000)
    yield opened
    opened.close()


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_the_widget_fits_the_screen(context: BrowserContext, size: tuple[int, int]) -> None:
    width, height = size
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": height})
    page.goto("/demo/portal?practice=riverside-dental")
    problems: list[str] = []
    scroll, inner = page.evaluate(FITS)
    if scroll > inner:
        problems.append(f"portal page is {scroll}px wide in {inner}px: {page.evaluate(WIDEST)}")
    launcher = page.get_by_role("button", name="Help", exact=True)
    box = launcher.bounding_box()
    assert box is not None
    if box["x"] < 0 or box["x"] + box["width"] > width or box["y"] + box["height"] > height:
        problems.append(f"launcher at {box}")
    launcher.click()
    frame_box = page.locator(PANEL).bounding_box()
    assert frame_box is not None
    if frame_box["x"] < 0 or frame_box["x"] + frame_box["width"] > width + 0.5 or frame_box["y"] + frame_box["height"] > height + 0.5:
        problems.append(f"panel at {frame_box} in {width}x{height}")
    frame = page.frame_locator(PANEL)
    frame.locator("body").wait_for()
    panel = next(f for f in page.frames if f != page.main_frame)
    panel.wait_for_load_state()
    tabs = panel.evaluate("""() => Array.from(document.querySelectorAll('.panel-nav button')).filter(t => t.offsetParent)
        .filter(t => t.scrollWidth > t.clientWidth + 1 || t.getBoundingClientRect().right > innerWidth + 1)
        .map(t => t.textContent.trim())""")
    if tabs:
        problems.append(f"tabs cut off: {tabs}")
    scroll, inner = panel.evaluate(FITS)
    if scroll > inner:
        problems.append(f"panel content is {scroll}px wide in {inner}px")
    if width < 500:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "widget-phone.png"))
    assert problems == []
