"""In the browser (Playwright driving Debian's Chromium): the practice asks about a booking in the
widget's chat, reads the assistant's answer, asks for a person; the agent sees the assistant's
part and the reason it handed off."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from helpdesk.core.agents import NewAgent
from tests.chat.assistant.conftest import collision_booking
from tests.chat.conftest import ChatServer, console_page, go_online, widget_token
from tests.conftest import ARTIFACTS

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

pytestmark = pytest.mark.browser


def test_the_practice_asks_the_assistant_then_a_person_and_the_agent_sees_why(
    contexts: Callable[[], BrowserContext], chat_server: ChatServer, make_agent: Callable[..., NewAgent],
    assistant: Callable[..., None], practice_id: str,
) -> None:
    from playwright.sync_api import expect

    assistant()
    reference = collision_booking(chat_server, practice_id)
    created = make_agent("Ada Agent")
    agent = console_page(contexts, created)
    go_online(agent)

    practice = contexts().new_page()
    practice.goto(f"/widget/chat#token={widget_token(practice_id, name='Pat Reception')}")
    practice.get_by_label("How can we help?").fill(f"Why is {reference.lower()} not in my diary?")
    practice.get_by_role("button", name="Start chat").click()

    # the assistant's answer, in plain words, with the article-less facts of the practice's own booking
    answer = practice.locator("#messages .from-assistant")
    expect(answer).to_contain_text(f"Booking {reference}")
    expect(answer).to_contain_text("reached you 2 of 3 ways")
    expect(answer).to_contain_text("booking collision")
    expect(answer).to_contain_text("G. Co…")
    expect(practice.locator("#messages")).not_to_contain_text("Grace")

    practice.get_by_role("button", name="Ask for a person").click()
    expect(practice.locator("#messages")).to_contain_text("Handed to a person: the practice asked for a person")
    expect(practice.locator("#widget-status")).to_contain_text("in the queue")

    waiting = agent.locator("#queue").get_by_role("button", name=re.compile("Riverside Dental"))
    expect(waiting).to_be_visible()
    waiting.click()
    agent.get_by_role("button", name="Accept").click()
    expect(practice.locator("#widget-status")).to_contain_text("chatting with Ada Agent")
    messages = agent.locator("#messages")
    expect(messages.locator(".from-assistant")).to_contain_text("reached you 2 of 3 ways")
    expect(messages).to_contain_text("Handed to a person: the practice asked for a person")

    ARTIFACTS.mkdir(exist_ok=True)
    practice.screenshot(path=str(ARTIFACTS / "assistant_widget.png"), full_page=True)
    agent.screenshot(path=str(ARTIFACTS / "assistant_console.png"), full_page=True)
