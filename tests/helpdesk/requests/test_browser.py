"""The journey in a real browser (Playwright driving Debian's Chromium) against the live server,
with the emails going through the outbox to a real SMTP server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update
from sqlalchemy.orm import Session

from helpdesk.core import db
from helpdesk.core.agents import create_agent
from helpdesk.core.auth import mint_widget_token
from helpdesk.core.cli import PROJECT_ROOT
from helpdesk.core.clock import utcnow
from helpdesk.requests.models import Request
from tests.helpdesk.console_world import practice_world
from tests.helpdesk.factories import signed_post
from tests.helpdesk.outbox.servers import SmtpServer, parts
from tests.helpdesk.requests.helpers import PNG, deliver


@pytest.fixture
def live(live_app: Flask, live_server: str, smtp: SmtpServer) -> Iterator[Flask]:
    """The live app, sending to the test SMTP server, with links back to the live server."""
    saved = {key: live_app.config.get(key) for key in ("SMTP_URL", "PUBLIC_URL")}
    live_app.config.update(SMTP_URL=smtp.url, PUBLIC_URL=live_server)
    try:
        yield live_app
    finally:
        live_app.config.update(saved)


def email_link(message: Any, live_server: str) -> str:
    match = re.search(re.escape(live_server) + r"(/\S+)", parts(message)[0])
    assert match, "no link back to the helpdesk in the email"
    return match.group(1)


def test_the_journey_in_the_browser(live: Flask, live_server: str, browser: Browser, page: Page,
                                    smtp: SmtpServer) -> None:
    with Session(db.get_engine(live)) as session, live.app_context():
        agent = create_agent(session, "journey-agent@helpdesk.test", "Jo Agent", password="correct horse battery")
        session.commit()
        agent_email = agent.agent.email

    # The requester submits a request with a screenshot.
    page.goto("/hc/requests/new")
    page.get_by_label("Your email address").fill("rowan@example.test")
    page.get_by_label("Your name").fill("Rowan Reception")
    page.get_by_label("Subject").fill("Patient turned up, booking not in the diary")
    page.get_by_label("Description").fill("Booking BK-5521 came with a confirmation email <b>but</b> no diary entry.")
    page.locator("#attachments").set_input_files([{"name": "diary.png", "mimeType": "image/png", "buffer": PNG}])
    page.get_by_role("button", name="Submit request").click()
    expect(page.get_by_role("status")).to_contain_text("is with our support team")
    request_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_role("link", name="diary.png")).to_be_visible()
    expect(page.locator(".comment-body").first).to_have_text(
        "Booking BK-5521 came with a confirmation email <b>but</b> no diary entry.")

    # The confirmation arrives; its link opens the request in another browser.
    deliver(live)
    confirmation = smtp.inbox.to("rowan@example.test")
    assert len(confirmation) == 1
    requester = browser.new_context(base_url=live_server).new_page()
    requester.goto(email_link(confirmation[0], live_server))
    expect(requester.get_by_role("heading", level=1)).to_have_text("Patient turned up, booking not in the diary")

    # The agent logs in, finds it in the queue and replies, leaving it pending.
    console = browser.new_context(base_url=live_server).new_page()
    console.goto("/console/login")
    console.get_by_label("Email").fill(agent_email)
    console.get_by_label("Password").fill("correct horse battery")
    console.get_by_role("button", name=re.compile("Log in", re.I)).click()
    console.get_by_role("link", name="Requests", exact=True).click()
    console.get_by_role("link", name="Patient turned up, booking not in the diary").click()
    expect(console).to_have_url(re.compile(f"/console/requests/{request_id}$"))
    console.get_by_label("Message").fill("Sorry about that. Which practice are you with?")
    console.get_by_label("Then set the status to").select_option("pending")
    console.get_by_role("button", name="Send").click()
    expect(console.get_by_role("status")).to_contain_text("Reply sent")
    expect(console.locator("[data-status]").first).to_have_text("Pending")

    # The reply email arrives; the requester answers from My requests.
    smtp.inbox.clear()
    deliver(live)
    [reply_mail] = smtp.inbox.to("rowan@example.test")
    assert "Which practice are you with?" in parts(reply_mail)[0]
    requester.goto("/hc/requests")
    requester.get_by_role("link", name="Patient turned up, booking not in the diary").click()
    expect(requester.locator(".comment-agent")).to_contain_text("Which practice are you with?")
    requester.get_by_label("Add a reply").fill("Riverside Dental.")
    requester.get_by_role("button", name="Send reply").click()
    expect(requester.get_by_role("status")).to_contain_text("Your reply was sent")

    # The agent solves it.
    console.reload()
    expect(console.locator(".comment-requester").last).to_contain_text("Riverside Dental.")
    console.get_by_label("Status", exact=True).select_option("solved")
    console.get_by_role("button", name="Update").click()
    expect(console.locator("[data-status]").first).to_have_text("Solved")

    # After the configured days, the scheduler's command closes it.
    with Session(db.get_engine(live)) as session:
        session.execute(update(Request).where(Request.id == request_id)
                        .values(solved_at=utcnow() - timedelta(days=live.config["REQUESTS_CLOSE_AFTER_DAYS"] + 1)))
        session.commit()
    result = live.test_cli_runner().invoke(args=["requests", "close-solved"])
    assert f"#{request_id}" in result.output, result.output
    requester.reload()
    expect(requester.get_by_text("This request is closed.")).to_be_visible()


def test_deflection_suggests_help_center_articles(live: Flask, page: Page) -> None:
    result = live.test_cli_runner().invoke(args=["kb", "import", str(PROJECT_ROOT / "kb" / "content")])
    assert result.exit_code == 0, result.output
    page.goto("/hc/requests/new")
    page.get_by_label("Subject").press_sequentially("collision", delay=20)
    suggestions = page.locator("#suggestions")
    expect(suggestions).to_be_visible()
    expect(suggestions.get_by_role("link").first).to_be_visible()


def test_a_signed_in_practice_user_submits_about_a_booking(live: Flask, live_server: str, page: Page) -> None:
    response = signed_post(live_server, practice_world("PB", "Browser Dental", "BR"), live.config["INGEST_SECRET"])
    assert response.status_code == 200, response.text
    with live.app_context():
        token = mint_widget_token("PB", "browser-user", "Pat Browser", "pat@browser.test")
    page.request.post("/hc/session", form={"token": token, "next": "/hc/requests/new"})  # POST only
    page.goto("/hc/requests/new")
    expect(page.locator(".rq").get_by_text("Signed in as")).to_be_visible()
    page.get_by_label("Subject").fill("Booking BR-1 is not in our diary")
    page.get_by_label("Description").fill("The patient is at the desk now.")
    page.get_by_label("Booking reference").fill("BR-1")
    page.get_by_role("button", name="Submit request").click()
    expect(page.get_by_role("status")).to_contain_text("is with our support team")
    request_id = int(page.url.rsplit("/", 1)[1])
    with Session(db.get_engine(live)) as session:
        req = session.get(Request, request_id)
        assert req is not None and req.practice_id == "PB" and req.booking_snapshot["reference"] == "BR-1"
    page.goto("/hc/requests")
    expect(page.get_by_role("link", name="Booking BR-1 is not in our diary")).to_be_visible()


def test_the_form_shows_every_error_beside_its_field(live: Flask, page: Page) -> None:
    page.goto("/hc/requests/new")
    page.get_by_label("Your email address").fill("rowan-at-example")
    page.get_by_label("Your name").fill("Rowan Reception")
    page.get_by_role("button", name="Submit request").click()
    expect(page.get_by_role("alert")).to_contain_text("Please check these 3 fields")
    for label, message in (("Your email address", "Enter an email address like name@example.com"),
                           ("Subject", "Subject is required"), ("Description", "Description is required")):
        field = page.get_by_label(label)
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_accessible_description(re.compile("^" + re.escape(message)))
        error = page.locator(".field").filter(has=field).locator(".form-error")
        expect(error).to_have_text(message)
        expect(error).to_have_css("background-color", "rgb(253, 227, 225)")  # the error colours, not bare text
    expect(page.get_by_label("Your email address")).to_have_value("rowan-at-example")
    expect(page.get_by_label("Your name")).to_have_value("Rowan Reception")
    page.get_by_role("link", name="Subject is required").click()
    expect(page.get_by_label("Subject")).to_be_focused()
