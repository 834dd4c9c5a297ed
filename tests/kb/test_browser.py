"""The Help Center in Chromium: read an article, vote, follow (confirmed by email), search (with suggestions as you
type), comment safely, and an editor writing with the live preview."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.core import db
from helpdesk.core.agents import create_agent
from helpdesk.core.auth import mint_widget_token
from helpdesk.outbox.models import OutboxMessage
from kb import service
from tests.kb.conftest import PASSWORD

pytestmark = pytest.mark.browser


@dataclass
class Seeded:
    word: str  # a made-up word only these articles use, so other tests' data cannot interfere
    category: str
    section: str
    article_id: int
    title: str
    path: str


@pytest.fixture
def seeded(live_app: Flask) -> Iterator[Seeded]:
    word = "zorbing" + uuid.uuid4().hex[:6]
    with live_app.app_context(), Session(db.get_engine(live_app)) as session:
        category = service.create_category(session, None, f"Diary help {word}")
        section = service.create_section(session, None, category, f"Missing bookings {word}")
        article = service.create_article(session, None, section, service.ArticleFields(
            title=f"What is a {word} collision?",
            body=f"A **{word} collision** happens when the slot is already taken.\n\n## What to do\n\n1. Call the patient.",
            labels=["collision"], promoted=True), status="published")
        service.create_article(session, None, section, service.ArticleFields(
            title=f"Other {word} notes", body="Unrelated."), status="published")
        session.flush()
        seeded = Seeded(word, category.name, section.name, article.id, article.title, article.path)
        session.commit()
    # Out of the session first: on SQLite every transaction holds the write lock (BEGIN IMMEDIATE).
    yield seeded


def test_read_an_article_from_the_home_page(page: Page, seeded: Seeded) -> None:
    page.goto("/hc")
    expect(page.get_by_role("heading", name="How can we help?")).to_be_visible()
    page.get_by_role("link", name=seeded.category).click()
    page.get_by_role("link", name=seeded.section).first.click()
    page.get_by_role("link", name=seeded.title).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(seeded.title)
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    expect(crumbs).to_contain_text(seeded.category)
    expect(crumbs).to_contain_text(seeded.section)
    expect(page.locator(".hc-body strong")).to_have_text(f"{seeded.word} collision")
    expect(page.get_by_role("heading", name="What to do")).to_be_visible()
    expect(page.get_by_role("link", name="Submit a request").first).to_be_visible()
    expect(page.get_by_role("region", name="Related articles")).to_contain_text(f"Other {seeded.word} notes")
    # The skip link is the first stop for the keyboard.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()


def test_vote_and_change_your_mind(page: Page, seeded: Seeded) -> None:
    page.goto(seeded.path)
    votes = page.get_by_role("region", name="Was this article helpful?")
    expect(votes).to_contain_text("Be the first to say whether this helped")
    votes.get_by_role("button", name="Yes").click()
    expect(page.get_by_role("status")).to_contain_text("Thank you for your feedback.")
    expect(page.get_by_test_id("vote-tally")).to_contain_text("1 out of 1 found this helpful")
    expect(votes.get_by_role("button", name="Yes")).to_have_attribute("aria-pressed", "true")
    votes.get_by_role("button", name="No").click()
    expect(page.get_by_test_id("vote-tally")).to_contain_text("0 out of 1 found this helpful")
    expect(page.get_by_test_id("vote-tally")).to_contain_text("you said no")


def test_follow_confirm_by_email_and_unfollow(page: Page, seeded: Seeded, live_app: Flask) -> None:
    address = f"desk-{seeded.word}@riverside.test"
    page.goto(seeded.path)
    page.get_by_label("Email me when this article changes").fill(address)
    page.get_by_role("button", name="Follow").click()
    expect(page.get_by_role("status")).to_contain_text(f"we have emailed {address} a link to confirm")
    expect(page.locator("#follow")).to_contain_text(f"open the link we emailed to {address}")

    # The confirmation email waits in the outbox (no SMTP server here): open its link.
    with Session(db.get_engine(live_app)) as session:
        text = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.recipient == address)).one()["text"]
    link = re.search(r"https?://[^/\s]+(/hc/follows/confirm/\S+)", text)
    assert link, text
    page.goto(link.group(1))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="You now follow this")).to_be_visible()
    page.get_by_role("link", name=re.compile("^Go to the article")).click()

    expect(page.locator("#follow")).to_contain_text(f"You follow this article at {address}")
    page.get_by_role("button", name="Unfollow").click()
    expect(page.get_by_role("status")).to_contain_text("You no longer follow this.")
    expect(page.get_by_label("Email me when this article changes")).to_be_visible()


def test_search_with_suggestions_as_you_type(page: Page, seeded: Seeded) -> None:
    page.goto("/hc")
    box = page.get_by_role("combobox", name="Search the Help Center")
    box.press_sequentially(seeded.word[:-2], delay=20)  # part of the word: a prefix
    suggestions = page.get_by_role("listbox", name="Suggested articles")
    expect(suggestions.get_by_role("option").first).to_contain_text(seeded.title)
    expect(box).to_have_attribute("aria-expanded", "true")
    box.press("ArrowDown")
    box.press("Enter")
    expect(page).to_have_url(f"{page.url.split('/hc')[0]}{seeded.path}")

    page.goto("/hc")
    page.get_by_role("combobox", name="Search the Help Center").fill(f"{seeded.word} collisions")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("1 result for")
    result = page.locator(".hc-result").first
    expect(result.get_by_role("link")).to_have_text(seeded.title)
    expect(result.locator("mark").first).to_be_visible()


def test_hostile_search_and_comments_stay_inert(page: Page, seeded: Seeded, live_app: Flask) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto('/hc/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E%22%20OR%20NEAR(')
    expect(page.get_by_role("heading", level=1)).to_contain_text("<script>alert(1)</script>")

    with live_app.app_context():
        token = mint_widget_token("P-browser", f"u-{seeded.word}", "Pat Browser", "pat@browser.test")
    page.request.post("/hc/session", form={"token": token, "next": seeded.path})  # POST only; shares the cookies
    page.goto(seeded.path)
    expect(page.get_by_text("Signed in as Pat Browser")).to_be_visible()
    page.get_by_label("Add a comment as Pat Browser").fill(
        "<img src=x onerror=alert(1)><script>alert(2)</script> [link](javascript:alert(3)) **thanks**")
    page.get_by_role("button", name="Post comment").click()
    expect(page.get_by_role("status")).to_contain_text("Your comment will appear once our team has checked it")
    pending = page.locator(".hc-comment-pending")
    expect(pending).to_contain_text("awaiting moderation")
    expect(pending.locator(".hc-body strong")).to_have_text("thanks")
    expect(pending.locator(".hc-body img, .hc-body script")).to_have_count(0)
    expect(pending.locator(".hc-body a")).to_have_count(0)
    page.reload()
    assert dialogs == []


def test_an_editor_writes_with_a_live_preview_and_publishes(page: Page, seeded: Seeded, live_app: Flask) -> None:
    email = f"editor-{seeded.word}@kb.test"
    with live_app.app_context(), Session(db.get_engine(live_app)) as session:
        create_agent(session, email, "Eda Editor", role="editor", password=PASSWORD)
        session.commit()
    page.goto("/console/kb")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="New article").click()
    page.get_by_label("Title").fill(f"Preview {seeded.word}")
    page.get_by_label("Section").select_option(label=f"{seeded.category} › {seeded.section}")
    page.get_by_label("Body (Markdown)").fill("## Heading\n\n**bold** <script>alert(1)</script>")
    preview = page.locator("#preview")
    expect(preview.locator("h2")).to_have_text("Heading")
    expect(preview.locator("strong")).to_have_text("bold")
    expect(preview.locator("script")).to_have_count(0)
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_contain_text("Article published.")
    page.get_by_role("link", name="View in the Help Center ↗").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Preview {seeded.word}")
