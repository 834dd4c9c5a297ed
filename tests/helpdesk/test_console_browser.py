"""An agent, in Chromium, finds out why a booking missed the diary (data sent through the signed ingest API)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from helpdesk.core import db
from helpdesk.core.agents import create_agent
from tests.helpdesk.console_world import practice_world
from tests.helpdesk.factories import signed_post

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.mark.browser
def test_agent_reads_why_a_booking_missed_the_diary(page: Page, live_server: str, live_app: Flask) -> None:
    suffix = uuid.uuid4().hex[:6]
    with Session(db.get_engine(live_app)) as session:
        created = create_agent(session, f"bea-{suffix}@helpdesk.test", "Bea Browser")
        email, password = created.agent.email, created.password
        session.commit()
    practice_id, name = f"HB-{suffix}", f"Harbour Dental {suffix}"
    response = signed_post(live_server, practice_world(practice_id, name, ref_prefix=f"H{suffix}"),
                           live_app.config["INGEST_SECRET"])
    assert response.status_code == 200, response.text

    page.goto("/console/practices")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Signed in as")).to_contain_text("Bea Browser")

    page.get_by_label("Practice name or id").fill(f"harbour dental {suffix}")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)

    page.get_by_role("link", name=f"H{suffix}-1", exact=True).first.click()
    diagnosis = page.locator("#diagnosis")
    expect(diagnosis).to_contain_text("Received 2 of 3 ways: the bookings list and email; not by the diary")
    expect(diagnosis).to_contain_text("booking collision")
    expect(diagnosis.get_by_role("region", name="Who was alerted")).to_contain_text("Nobody was alerted: no alert email on record")
    expect(diagnosis).to_contain_text("J. Sm…")

    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.screenshot(path=str(ARTIFACTS / "console_diagnosis.png"), full_page=True)
