"""The chat console and the widget's chat page in the browser, as a new user meets them: the
presence survives a reload, "Transfer to…" says when nobody can take the chat, booking references
in messages link to their diagnosis, each notice shows once, and the rating is a labelled scale."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from chat.models import AgentConnection, Conversation
from helpdesk.core.agents import NewAgent
from tests.chat.conftest import ChatServer, Peer, console_page, go_online, widget_token
from tests.chat.test_diagnostics import ingest
from tests.helpdesk import factories as f

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = pytest.mark.browser

Contexts = Callable[[], "BrowserContext"]


def test_the_chosen_presence_survives_a_reload(contexts: Contexts, make_agent: Callable[..., NewAgent],
                                              chat_server: ChatServer, peers: Callable[..., Peer], practice_id: str,
                                              chat_engine: Engine) -> None:
    from playwright.sync_api import expect

    created = make_agent("Rae Reload")
    page = console_page(contexts, created)
    expect(page.get_by_label("My status")).to_have_value("offline")  # a new agent starts offline
    page.get_by_label("My status").select_option("online")
    expect(page.locator("#presence-saved")).to_have_text("Saved: Online, up to 3 chats at once.")
    page.get_by_label("Chats at once").fill("4")
    page.get_by_label("Chats at once").dispatch_event("change")
    expect(page.locator("#presence-saved")).to_have_text("Saved: Online, up to 4 chats at once.")
    practice = peers(chat_server.url, widget_token(practice_id))

    page.reload()
    expect(page.get_by_label("My status")).to_have_value("online")
    expect(page.get_by_label("Chats at once")).to_have_value("4")
    expect(page.locator("#connection")).to_have_text("Connected")
    assert practice.ok("availability")["agents_online"] is True
    with Session(chat_engine) as session:  # counted by the new page's own connection, not only the grace
        open_ones = session.scalars(select(AgentConnection).where(AgentConnection.agent_id == created.agent.id,
                                                                  AgentConnection.closed_at.is_(None))).all()
    assert len(open_ones) == 1
    assert peers(chat_server.url, created.token).ok("queue")["me"] == {"presence": "online", "capacity": 4}


def test_transfer_says_when_no_other_agent_is_online_and_booking_references_link_to_their_diagnosis(
    contexts: Contexts, make_agent: Callable[..., NewAgent], chat_server: ChatServer,
    peers: Callable[..., Peer], practice_id: str,
) -> None:
    from playwright.sync_api import expect

    reference = f"RVD-{uuid.uuid4().hex[:6].upper()}"
    ingest(chat_server, f.practice_upserted(practice_id, name="Linkford Dental"),
           f.booking_created(reference, practice_id, occurred_at=f.at(0)),
           f.diary_failed("collision", reference, practice_id, occurred_at=f.at(2)))
    ada = console_page(contexts, make_agent("Ada Agent"))
    go_online(ada)
    practice = peers(chat_server.url, widget_token(practice_id, name="Pat Reception"))
    started = practice.ok("start_conversation", {"body": f"Booking {reference.lower()} <script>alert(1)</script> is missing",
                                                 "client_id": "p-1"})
    conversation_id = started["conversation"]["id"]
    ada.locator("#queue").get_by_role("button", name=re.compile("Linkford Dental")).click()
    ada.get_by_role("button", name="Accept").click()

    # one agent online: the transfer control says so, no empty menu
    expect(ada.get_by_text("No other agent is online to transfer to.")).to_be_visible()
    expect(ada.get_by_label("Transfer to another agent")).to_be_hidden()

    # the practice's reference is a link to the booking's diagnosis within its practice; markup stays text
    link = ada.locator("#messages").get_by_role("link", name=reference.lower(), exact=True)
    expect(link).to_have_attribute("href", f"/console/practices/{practice_id}?booking={reference}")
    expect(ada.locator("#messages")).to_contain_text("<script>alert(1)</script> is missing")
    assert ada.locator("#messages script").count() == 0
    ada.get_by_role("textbox", name="Message", exact=True).fill(f"Looking at {reference} now")
    ada.get_by_role("button", name="Send", exact=True).click()
    expect(ada.locator("#messages").get_by_role("link", name=reference, exact=True)).to_have_count(1)  # the agent's line too
    ada.reload()  # the history, replayed, links the same way
    ada.locator("#mine").get_by_role("button", name=re.compile("Linkford Dental")).click()
    expect(ada.locator("#messages").get_by_role("link", name=re.compile(reference, re.IGNORECASE))).to_have_count(2)

    # a second agent comes online: the menu lists them, and the chat goes over
    bob_row = make_agent("Bob Agent")
    peers(chat_server.url, bob_row.token).ok("presence", {"presence": "online"})
    transfer = ada.get_by_label("Transfer to another agent")
    expect(transfer).to_be_visible()
    expect(ada.get_by_text("No other agent is online to transfer to.")).to_be_hidden()
    transfer.select_option(label="Bob Agent")
    expect(ada.locator("#chat-notice")).to_have_text("Transferred.")
    assert practice.wait_for("conversation", lambda c: c["id"] == conversation_id and c["agent"]
                             and c["agent"]["name"] == "Bob Agent")


def visible_lines(page: Page, pattern: str) -> int:
    """How many times the rendered page says it (what a person reads: hidden text does not count)."""
    return len(re.findall(pattern, page.locator("body").inner_text(), re.IGNORECASE))


def test_the_widget_says_each_notice_once_and_rates_on_a_labelled_scale(
    contexts: Contexts, make_agent: Callable[..., NewAgent], chat_server: ChatServer,
    peers: Callable[..., Peer], practice_id: str, chat_engine: Engine,
) -> None:
    from playwright.sync_api import expect

    practice = contexts().new_page()
    chat_page = f"/widget/chat#token={widget_token(practice_id, name='Pat Reception')}"
    practice.goto(chat_page)
    expect(practice.get_by_role("heading", name="No one is online right now")).to_be_visible()
    assert visible_lines(practice, r"no (one|agent) is online") == 1

    peers(chat_server.url, make_agent("Ada Agent").token).ok("presence", {"presence": "online"})
    practice.goto("about:blank")
    practice.goto(chat_page)  # the page drops the token from its address: open it afresh
    practice.get_by_label("How can we help?").fill("A booking is missing")
    practice.get_by_role("button", name="Start chat").click()
    expect(practice.locator("#widget-status")).to_contain_text("number 1 in the queue")
    practice.get_by_role("button", name="End chat").click()
    expect(practice.get_by_role("heading", name="The chat has ended")).to_be_visible()
    assert visible_lines(practice, r"chat has ended") == 1

    scale = practice.get_by_role("radiogroup", name="How did we do?")
    expect(scale.get_by_role("radio")).to_have_count(5)
    for name in ("1 — Very poor", "2 — Poor", "3 — Fair", "4 — Good", "5 — Excellent"):
        expect(scale.get_by_role("radio", name=name)).to_be_visible()
    scale.get_by_role("radio", name="1 — Very poor").focus()  # the keyboard: arrows move along the scale
    for _ in range(3):
        practice.keyboard.press("ArrowRight")
    expect(scale.get_by_role("radio", name="4 — Good")).to_be_checked()
    practice.get_by_label("Anything to add? (optional)").fill("Quick and kind")
    practice.get_by_role("button", name="Send rating").click()
    expect(practice.locator("#widget-notice")).to_have_text("Thank you for your rating.")
    with Session(chat_engine) as session:
        rated = session.scalars(select(Conversation).where(Conversation.practice_id == practice_id)).one()
    assert (rated.rating, rated.rating_comment) == (4, "Quick and kind")
