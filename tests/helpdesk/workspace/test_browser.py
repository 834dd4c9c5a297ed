"""The workspace in Chromium: search from the header, the new-chat notification (title, count,
favicon), the keyboard shortcuts, the reports page's chart, and no sideways scroll."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import delete
from sqlalchemy.orm import Session

from chat import service as chat_service
from chat.models import AgentConnection, Conversation
from helpdesk.core import db
from helpdesk.core.agents import Agent, create_agent
from helpdesk.core.auth import PracticeUser
from helpdesk.core.clock import utcnow
from tests.helpdesk.console_world import practice_world
from tests.helpdesk.factories import signed_post

SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
CONSOLE_PAGES = ("/console/practices", "/console/requests", "/console/chat", "/console/kb", "/console/reports",
                 "/console/reports/diagnosis", "/console/profile", "/console/search?q=dental")


@pytest.fixture
def world(live_app: Flask, live_server: str) -> Iterator[dict[str, str]]:
    suffix = uuid.uuid4().hex[:6]
    with Session(db.get_engine(live_app)) as session:
        created = create_agent(session, f"wes-{suffix}@helpdesk.test", "Wes Workspace")
        session.commit()
        info = {"email": created.agent.email, "password": created.password, "agent_id": str(created.agent.id),
                "practice": f"WS-{suffix}", "name": f"Wattle Dental {suffix}", "ref": f"W{suffix}".upper()}
    response = signed_post(live_server, practice_world(info["practice"], info["name"], ref_prefix=info["ref"]),
                           live_app.config["INGEST_SECRET"])
    assert response.status_code == 200, response.text
    poll = live_app.config.get("WORKSPACE_POLL_SECONDS")
    live_app.config["WORKSPACE_POLL_SECONDS"] = 0.3
    yield info
    live_app.config["WORKSPACE_POLL_SECONDS"] = poll
    with Session(db.get_engine(live_app)) as session:
        session.execute(delete(Conversation).where(Conversation.practice_id == info["practice"]))
        session.execute(delete(AgentConnection).where(AgentConnection.agent_id == int(info["agent_id"])))
        session.commit()


def sign_in(page: Page, world: dict[str, str], path: str = "/console/practices") -> None:
    page.goto(path)
    page.get_by_label("Email").fill(world["email"])
    page.get_by_label("Password").fill(world["password"])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Signed in as")).to_contain_text("Wes Workspace")
    # the shortcuts listen once workspace.js has run, which a loaded machine may still be loading
    page.wait_for_function("() => window.helpdeskWorkspace !== undefined")


def test_search_from_the_header_opens_the_booking_in_its_practice(page: Page, world: dict[str, str]) -> None:
    sign_in(page, world)
    page.keyboard.press("/")
    box = page.get_by_label("Find a booking, patient, practice, request or email")
    expect(box).to_be_focused()
    box.fill(f"{world['ref']}-1")
    box.press("Enter")
    group = page.get_by_role("region", name="Bookings")
    expect(group).to_contain_text(f"{world['ref']}-1 · J. Sm…")
    expect(group).to_contain_text(world["name"])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "workspace-search.png"))
    group.get_by_role("link").first.click()
    expect(page).to_have_url(f"/console/practices/{world['practice']}?booking={world['ref']}-1")
    expect(page.locator("#diagnosis")).to_contain_text("booking collision")


def test_a_new_chat_shows_in_the_title_the_navigation_and_the_favicon(page: Page, world: dict[str, str],
                                                                      live_app: Flask) -> None:
    sign_in(page, world)
    expect(page).to_have_title("Practices · Practice Helpdesk")
    waiting = page.locator("[data-count='waiting_chats']")
    expect(waiting).to_be_hidden()
    # the first poll has been drawn: only a rise after it is news, so the chat must come after it
    expect(page.locator("link[data-workspace-favicon][data-count='0']")).to_have_count(1)
    before = page.locator("link[data-workspace-favicon]").get_attribute("href")
    with Session(db.get_engine(live_app)) as session:  # an agent online, then the practice starts a chat
        now = utcnow()
        agent = session.get(Agent, int(world["agent_id"]))
        assert agent is not None
        chat_service.set_presence(session, agent, "online", 3, now)
        chat_service.connection_opened(session, agent.id, f"sid-{world['practice']}", "test-node", now)
        user = PracticeUser(user_id="u-1", practice_id=world["practice"], name="Pat Staff", email="pat@p.test")
        chat_service.start_conversation(session, user, now + timedelta(seconds=1), "Hello, a booking is missing",
                                        "first-message")
        session.commit()
    expect(page).to_have_title("(1) Practices · Practice Helpdesk", timeout=5000)
    expect(waiting).to_be_visible()
    expect(waiting).to_contain_text("1")
    assert page.locator("link[data-workspace-favicon]").get_attribute("href") != before
    assert page.locator("link[data-workspace-favicon]").get_attribute("href").startswith("data:image/png")  # type: ignore[union-attr]
    assert page.evaluate("document.documentElement.dataset.lastNotice") == "A new chat is waiting."


def test_keyboard_shortcuts(page: Page, world: dict[str, str]) -> None:
    sign_in(page, world, "/console/search?q=dental")
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Accept the chat")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    items = page.locator("main [data-nav-item]")
    assert items.count() >= 1
    page.keyboard.press("j")
    expect(items.nth(0)).to_have_class("kbd-current")
    expect(items.nth(0).get_by_role("link")).to_be_focused()
    if items.count() > 1:
        page.keyboard.press("j")
        expect(items.nth(1)).to_have_class("kbd-current")
        page.keyboard.press("k")
        expect(items.nth(0)).to_have_class("kbd-current")
    page.keyboard.press("/")
    expect(page.locator("#header-search-q")).to_be_focused()
    page.keyboard.type("j")  # typing in a box is not a shortcut
    expect(page.locator("#header-search-q")).to_have_value("j")


def test_the_reports_page_draws_a_chart_with_its_table(page: Page, world: dict[str, str], live_app: Flask) -> None:
    with Session(db.get_engine(live_app)) as session:
        now = utcnow()
        session.add_all([Conversation(practice_id=world["practice"], requester_id=f"r{n}", status="closed",
                                      created_at=now - timedelta(days=n), accepted_at=now - timedelta(days=n),
                                      closed_at=now - timedelta(days=n) + timedelta(minutes=9), rating=5)
                         for n in range(1, 6)])
        session.commit()
    sign_in(page, world, "/console/reports")
    chart = page.locator("svg[data-chart='Chats and requests by day']")
    expect(chart).to_be_visible()
    assert chart.locator("rect[height]").count() > 5
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 80
    page.screenshot(path=str(SCREENSHOTS / "workspace-report.png"), full_page=False)
    page.get_by_text("Table: Chats and requests by day").click()
    expect(page.locator("table[data-table='by_day']")).to_be_visible()


# What sticks out on the right, innermost first: the failure names the culprits.
WIDEST = """() => Array.from(document.querySelectorAll('body *'))
  .filter(el => el.getBoundingClientRect().right > innerWidth + 1 && !Array.from(el.children).some(
     c => c.getBoundingClientRect().right > innerWidth + 1))
  .slice(0, 6).map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') + ' ' +
     Math.round(el.getBoundingClientRect().right))"""


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_no_console_page_scrolls_sideways(page: Page, world: dict[str, str], size: tuple[int, int]) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    sign_in(page, world)
    wide = {}
    for path in (*CONSOLE_PAGES, f"/console/practices/{world['practice']}?booking={world['ref']}-1"):
        page.goto(path)
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if width[0] > width[1]:
            wide[path] = (width, page.evaluate(WIDEST))
    assert wide == {}
