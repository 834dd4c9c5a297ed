"""In the browser (Playwright driving Debian's Chromium, the official Socket.IO JavaScript client
from chat/static/vendor): a practice and an agent, in two browser contexts, chat; the agent sees
the practice's diagnostics, opens the booking the practice names and shares an article."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.engine import Engine

from helpdesk.core.agents import NewAgent
from tests.chat.conftest import ChatServer, console_page, go_online, widget_token
from tests.chat.test_diagnostics import ingest, publish_article
from tests.conftest import ARTIFACTS
from tests.helpdesk import factories as f

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

pytestmark = pytest.mark.browser


def test_a_practice_and_an_agent_chat_and_the_agent_shares_an_article(
    contexts: Callable[[], BrowserContext], chat_server: ChatServer, make_agent: Callable[..., NewAgent],
    chat_engine: Engine, practice_id: str,
) -> None:
    from playwright.sync_api import expect

    reference = f"RVD-{uuid.uuid4().hex[:6].upper()}"
    ingest(chat_server,
           f.practice_upserted(practice_id, name="Riverside Dental Studio"),
           f.booking_created(reference, practice_id, occurred_at=f.at(0)),
           f.email_event("delivered", reference, practice_id, recipient="front@riverside.test", occurred_at=f.at(1)),
           f.diary_failed("collision", reference, practice_id, occurred_at=f.at(2)))
    title = f"What a booking collision is ({reference})"
    publish_article(chat_engine, title, "diary_collision")
    created = make_agent("Ada Agent")

    # the agent logs in to the console, goes online
    agent = console_page(contexts, created)
    go_online(agent)

    # the practice opens the widget's chat page (token in the fragment) and starts a chat
    practice = contexts().new_page()
    practice.goto(f"/widget/chat#token={widget_token(practice_id, name='Pat Reception')}")
    assert "token=" not in practice.url
    practice.get_by_label("How can we help?").fill("Hi <b>there</b>, a patient came in but the booking is missing")
    practice.get_by_role("button", name="Start chat").click()
    expect(practice.locator("#widget-status")).to_contain_text("number 1 in the queue")

    # the agent sees it in the queue, opens it, accepts
    waiting = agent.locator("#queue").get_by_role("button", name=re.compile("Riverside Dental Studio"))
    expect(waiting).to_be_visible()
    waiting.click()
    expect(agent.locator("#diagnostics")).to_contain_text("Riverside Dental Studio")
    expect(agent.locator("#diagnostics .failed-bookings")).to_contain_text(reference)
    agent.get_by_role("button", name="Accept").click()
    expect(practice.locator("#widget-status")).to_contain_text("chatting with Ada Agent")

    # markup typed by the practice arrives as text
    expect(agent.locator("#messages")).to_contain_text("Hi <b>there</b>, a patient came in")
    assert agent.locator("#messages b").count() == 0

    agent.get_by_role("textbox", name="Message", exact=True).fill("Hello Pat, which booking is it?")
    agent.get_by_role("button", name="Send", exact=True).click()
    expect(practice.locator("#messages")).to_contain_text("Hello Pat, which booking is it?")

    # the practice names the booking: the agent's diagnosis panel opens it
    practice.get_by_role("textbox", name="Message", exact=True).fill(f"It is {reference}")
    practice.get_by_role("button", name="Send", exact=True).click()
    diagnosis = agent.locator("#diagnosis")
    expect(diagnosis).to_contain_text(f"Booking {reference}")
    expect(diagnosis).to_contain_text("Received 2 of 3 ways")
    diagnosis.locator("li", has_text=title).get_by_role("button", name="Share").click()

    card = practice.locator("#messages .article-card")
    expect(card).to_contain_text(title)
    expect(card.get_by_role("link")).to_have_attribute("href", re.compile(r"^/hc/articles/\d+-"))

    ARTIFACTS.mkdir(exist_ok=True)
    agent.set_viewport_size({"width": 1440, "height": 900})
    agent.screenshot(path=str(ARTIFACTS / "chat_console.png"), full_page=True)
    practice.screenshot(path=str(ARTIFACTS / "chat_widget.png"), full_page=True)

    # the practice ends the chat and rates it
    practice.get_by_role("button", name="End chat").click()
    expect(practice.get_by_role("heading", name="The chat has ended")).to_be_visible()
    practice.get_by_role("radio", name="5 — Excellent").check()
    practice.get_by_role("button", name="Send rating").click()
    expect(practice.locator("#widget-notice")).to_contain_text("Thank you")
