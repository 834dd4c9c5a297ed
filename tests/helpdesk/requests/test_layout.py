"""The request page and the queue fit the window at 1280x800 and on a phone (390x844), with the
values that pushed them wider: a long email address, a long subject, a Health card with data,
and a full queue of long values."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from helpdesk.core import db
from helpdesk.core.agents import create_agent
from helpdesk.core.auth import PracticeUser
from helpdesk.core.clock import utcnow
from helpdesk.requests import service
from tests.helpdesk.console_world import practice_world
from tests.helpdesk.factories import signed_post
from tests.helpdesk.workspace.test_browser import WIDEST

pytestmark = pytest.mark.browser
LONG_EMAIL = "reception.front-desk.riverside-dental-and-implant-centre@riverside-dental-and-implant-centre.example.test"
LONG_SUBJECT = ("Patient arrived for an appointment confirmed by email but the diary showed nothing at all and "
                "the front desk could not find the booking anywhere in the practice management software")
FITS = "[document.documentElement.scrollWidth, window.innerWidth]"


@pytest.fixture
def crowded(live_app: Flask, live_server: str) -> dict[str, str]:
    """A practice with long notification addresses and a queue of long requests naming its booking."""
    suffix = uuid.uuid4().hex[:6]
    practice, ref = f"LAY-{suffix}", f"L{suffix}".upper()
    events = practice_world(practice, f"Riverside Dental and Implant Centre {suffix}", ref_prefix=ref,
                            booking_emails=[LONG_EMAIL, f"second.{LONG_EMAIL}"], alert_emails=[LONG_EMAIL])
    response = signed_post(live_server, events, live_app.config["INGEST_SECRET"])
    assert response.status_code == 200, response.text
    with Session(db.get_engine(live_app)) as session, live_app.app_context():
        agent = create_agent(session, f"lay-{suffix}@helpdesk.test", "Layla Layout-Tester-With-A-Long-Name")
        user = PracticeUser(f"user-{suffix}", practice, "Reception Front Desk Riverside", LONG_EMAIL)
        requests = [
            service.submit_request(session, service.Requester.for_practice_user(user), service.Submission(
                subject=f"{LONG_SUBJECT} ({n})", description=f"Booking {ref}-1 again. Write to {LONG_EMAIL}.",
                booking_reference=f"{ref}-1"), "widget", utcnow())
            for n in range(30)
        ]
        for req in requests:
            service.update_request(session, req, agent.agent, utcnow(), priority="urgent", assignee_id=agent.agent.id)
        service.add_comment(session, requests[-1], agent.agent, f"Copying {LONG_EMAIL} and {ref}-1.", now=utcnow())
        shown = {"email": agent.agent.email, "password": agent.password, "request": str(requests[-1].id),
                 "practice": practice}
        session.commit()
    return shown


def sign_in(page: Page, crowded: dict[str, str], path: str) -> None:
    page.goto(path)
    page.get_by_label("Email").fill(crowded["email"])
    page.get_by_label("Password").fill(crowded["password"])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Signed in as")).to_contain_text("Layla")


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_the_request_page_and_the_queue_do_not_scroll_sideways(page: Page, crowded: dict[str, str],
                                                                size: tuple[int, int]) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    request_page = f"/console/requests/{crowded['request']}"
    sign_in(page, crowded, request_page)
    expect(page.locator("#health-title")).to_be_visible()
    wide = {}
    for path in (request_page, f"/console/requests?practice_id={crowded['practice']}"):
        page.goto(path)
        width = page.evaluate(FITS)
        if width[0] > width[1]:
            wide[path] = (width, page.evaluate(WIDEST))
    assert not wide, "\n".join(f"{path} is {w[0]}px wide in {w[1]}px: {culprits}" for path, (w, culprits) in wide.items())
