"""The chat console with the workspace, against a real chat server: a practice starts
a chat and the agent's tab title and navigation count it; the agent accepts with the ``a`` key;
the diagnostics panel writes the practice's times in the practice's zone and its codes in words."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from helpdesk.core.agents import NewAgent
from tests.chat.conftest import ChatServer, widget_token
from tests.chat.test_diagnostics import ingest
from tests.helpdesk import factories as f

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

pytestmark = pytest.mark.browser


def test_new_chat_title_accept_key_and_diagnostics_in_the_practice_zone(
    contexts: Callable[[], BrowserContext], chat_server: ChatServer, make_agent: Callable[..., NewAgent],
    practice_id: str,
) -> None:
    from playwright.sync_api import expect

    reference = f"RVD-{uuid.uuid4().hex[:6].upper()}"
    appointment = f.at(60 * 24 * 3)
    ingest(chat_server,
           f.practice_upserted(practice_id, name="Brisbane Smiles", timezone_name="Australia/Brisbane"),
           f.booking_created(reference, practice_id, appointment_at=appointment, occurred_at=f.at(0)),
           f.email_event("delivered", reference, practice_id, recipient="front@riverside.test", occurred_at=f.at(1)),
           f.diary_failed("patient_match", reference, practice_id, occurred_at=f.at(2)))
    created = make_agent("Kit Keys")

    agent = contexts().new_page()
    agent.goto("/console/login")
    agent.get_by_label("Email").fill(created.agent.email)
    agent.get_by_label("Password").fill(created.password)
    agent.get_by_role("button", name="Log in").click()
    agent.get_by_role("link", name=re.compile("^Chats")).click()
    expect(agent.locator("#connection")).to_have_text("Connected")
    agent.get_by_label("My status").select_option("online")
    expect(agent).to_have_title("Chats · Practice Helpdesk")

    practice = contexts().new_page()
    practice.goto(f"/widget/chat#token={widget_token(practice_id, name='Pat Reception')}")
    practice.get_by_label("How can we help?").fill("A booking is missing")
    practice.get_by_role("button", name="Start chat").click()

    # the counts poll (every 10 s by default) shows the new chat in the title and the navigation
    expect(agent).to_have_title(re.compile(r"^\(\d+\) Chats · Practice Helpdesk$"), timeout=15_000)
    expect(agent.locator("[data-count='waiting_chats']")).to_be_visible()

    waiting = agent.locator("#queue").get_by_role("button", name=re.compile("Brisbane Smiles"))
    waiting.click()
    failed = agent.locator("#diagnostics .failed-bookings:not(.at-risk)")  # (not today's at-risk list)
    expect(failed).to_contain_text(reference)
    moment = datetime.fromisoformat(appointment).astimezone(ZoneInfo("Australia/Brisbane"))
    expect(failed).to_contain_text(moment.strftime("%a %d %b %Y, %H:%M"))
    expect(failed).to_contain_text("Diary: Patient not matched")
    expect(failed).to_contain_text("Email: Delivered")
    assert "patient_match" not in (failed.text_content() or "")

    agent.locator("body").press("a")  # the accept shortcut
    expect(practice.locator("#widget-status")).to_contain_text("chatting with Kit Keys")
