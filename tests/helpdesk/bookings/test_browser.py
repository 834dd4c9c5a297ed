"""The widget's Home in a real browser: today's bookings at risk as a card, and the incident banner,
which says "resolved" once inserts succeed again. Served by ``wsgi.py`` (a real server, real clock)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpdesk.core.clock import utcnow
from tests.chat.conftest import ChatServer
from tests.conftest import ARTIFACTS, TEST_SECRETS, migrate, sqlite_url
from tests.helpdesk import factories as f

pytestmark = pytest.mark.browser
PANEL = "iframe[title='Practice Helpdesk help panel']"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    folder: Path = tmp_path_factory.mktemp("at-risk-widget")
    url = sqlite_url(folder / "widget.db")
    migrate(url)
    running = ChatServer(url, folder, HELPDESK_DEMO_PORTAL="1").start()
    try:
        yield running
    finally:
        running.stop()


def post(server: ChatServer, *events: dict) -> None:
    response = f.signed_post(server.url, list(events), TEST_SECRETS["INGEST_SECRET"])
    assert response.status_code == 200, response.text


def test_the_widget_shows_bookings_at_risk_and_the_incident_banner_until_it_resolves(server, browser) -> None:
    from playwright.sync_api import expect

    now = utcnow()
    stamp = f.iso(now)
    # An appointment right now (so "today" whatever the hour) that failed to reach the diary.
    later = stamp
    upsert = f.practice_upserted("WIDGET-RISK", name="Widget Dental", timezone_name="UTC", occurred_at=stamp)
    post(server, upsert, f.booking_created("BK-RISK-1", "WIDGET-RISK", appointment_at=later, occurred_at=stamp))
    post(server, *(f.diary_failed("collision", ref, "WIDGET-RISK", occurred_at=stamp)
                   for ref in ("BK-RISK-1", "BK-RISK-2", "BK-RISK-3")))  # a burst: an incident opens

    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto("/demo/portal?practice=WIDGET-RISK")
        page.get_by_role("button", name="Help", exact=True).click()
        panel = page.frame_locator(PANEL)
        card = panel.locator("#at-risk-card")
        expect(card).to_be_visible()
        expect(card.get_by_role("heading")).to_have_text("1 booking today is not safely in your diary")
        expect(card).to_contain_text("BK-RISK-1")
        expect(card).to_contain_text("booking collision")
        banner = panel.locator("#incident-banner")
        expect(banner).to_be_visible()
        expect(banner).to_have_attribute("data-state", "open")
        expect(banner).to_contain_text(re.compile(r"Widget Dental: diary inserts are failing\. We are on it: since .+ \(UTC\)"))
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "widget_at_risk_incident.png"))

        # Inserts succeed again: the banner (polled) says it is resolved, without a reload.
        post(server, f.diary_inserted("BK-RISK-4", "WIDGET-RISK", occurred_at=f.iso(utcnow())))
        expect(banner).to_have_attribute("data-state", "resolved", timeout=30_000)  # the panel polls every 5 s
        expect(banner).to_contain_text("Resolved at")
        expect(banner).not_to_have_class(re.compile(r"banner-alert"))  # the alert is cleared
    finally:
        context.close()
