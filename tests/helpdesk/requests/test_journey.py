"""The whole journey through the pages: submit, confirmation email, agent reply, reply email,
requester reply from My requests, solved, closed after the configured days."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from helpdesk.core.agents import NewAgent
from helpdesk.core.audit import AuditEntry
from helpdesk.core.clock import utcnow
from helpdesk.requests.models import Request
from tests.helpdesk.factories import practice_upserted
from tests.helpdesk.outbox.servers import SmtpServer, parts
from tests.helpdesk.requests.helpers import (
    PDF,
    fetch,
    files,
    link_in,
    post_with_csrf,
    sign_in_practice_user,
    submit_form,
)


def test_the_whole_journey(app: Flask, client: FlaskClient, agent_client: FlaskClient, db_session: Session,
                           smtp: SmtpServer, send: Callable[[], Any], cli_runner: FlaskCliRunner,
                           agent: NewAgent) -> None:
    # 1. Submit, with an attachment.
    response = submit_form(client, subject="Patient not in diary", description="Booking BK-77 is missing.",
                           attachments=files(("confirmation.pdf", PDF)))
    assert response.status_code == 303, response.text
    request_id = int(response.headers["Location"].rsplit("/", 1)[1])

    # 2. The confirmation email arrives, with a signed link that opens the request in any browser.
    send()
    confirmation = smtp.inbox.to("sam@example.test")
    assert len(confirmation) == 1
    link = link_in(parts(confirmation[0])[0])
    elsewhere = app.test_client()
    assert elsewhere.get(f"/hc/requests/{request_id}").status_code == 404  # no link followed yet
    opened = elsewhere.get(link, follow_redirects=True)
    assert opened.status_code == 200 and "Booking BK-77 is missing." in opened.text
    assert "confirmation.pdf" in opened.text
    assert f"/hc/requests/{request_id}" in elsewhere.get("/hc/requests").text  # My requests lists it
    assert elsewhere.get(link[:-3] + "abc").status_code == 404  # a tampered link opens nothing

    # 3. The agent finds it in the queue and replies publicly, asking for more (pending).
    queue = agent_client.get("/console/requests?view=new").text
    assert "Patient not in diary" in queue
    page = f"/console/requests/{request_id}"
    assert "confirmation.pdf" in agent_client.get(page).text
    smtp.inbox.clear()
    response = post_with_csrf(agent_client, f"{page}/comments", page,
                              {"body": "Which practice are you with?", "visibility": "public", "status": "pending"})
    assert response.status_code == 303
    assert fetch(db_session, request_id).status == "pending"

    # 4. The reply email arrives.
    send()
    reply_mail = smtp.inbox.to("sam@example.test")
    assert len(reply_mail) == 1 and reply_mail[0]["Subject"] == f"[Request #{request_id}] New reply: Patient not in diary"
    text, html = parts(reply_mail[0])
    assert "Which practice are you with?" in text and "Ada Agent" in html

    # 5. The requester replies from My requests: the request reopens and the agents hear of it.
    smtp.inbox.clear()
    mine = f"/hc/requests/{request_id}"
    response = post_with_csrf(elsewhere, f"{mine}/comments", mine, {"body": "Riverside Dental, P1."})
    assert response.status_code == 303
    assert "Your reply was sent" in elsewhere.get(mine).text
    assert fetch(db_session, request_id).status == "open"
    send()
    to_agent = smtp.inbox.to("ada@helpdesk.test")
    assert len(to_agent) == 1 and "Riverside Dental, P1." in parts(to_agent[0])[0]
    assert to_agent[0]["Subject"].startswith(f"[Request #{request_id}] Requester replied:")

    # 6. The agent solves it.
    response = post_with_csrf(agent_client, page, page, {"status": "solved", "priority": "normal",
                                                         "assignee_id": str(agent.agent.id)})
    assert response.status_code == 303
    solved = fetch(db_session, request_id)
    assert solved.status == "solved" and solved.assignee_id == agent.agent.id

    # 7. It closes by itself after the configured days, not before.
    result = cli_runner.invoke(args=["requests", "close-solved"])
    assert result.exit_code == 0 and "closed 0 request(s) solved 4 or more days ago" in result.output
    db_session.execute(update(Request).where(Request.id == request_id)
                       .values(solved_at=utcnow() - timedelta(days=4, minutes=1)))
    db_session.commit()
    result = cli_runner.invoke(args=["requests", "close-solved"])
    assert result.exit_code == 0 and f"#{request_id}" in result.output, result.output
    assert fetch(db_session, request_id).status == "closed"
    closed_page = elsewhere.get(mine).text
    assert "This request is closed" in closed_page and 'action="/hc/requests/' not in closed_page.split("thread")[-1]


def test_requester_marks_solved_and_a_reply_reopens(client: FlaskClient, db_session: Session) -> None:
    response = submit_form(client)
    page = response.headers["Location"]
    request_id = int(page.rsplit("/", 1)[1])
    assert post_with_csrf(client, f"{page}/solve", page, {}).status_code == 303
    assert fetch(db_session, request_id).status == "solved" and "It closes by itself" in client.get(page).text
    post_with_csrf(client, f"{page}/comments", page, {"body": "Actually it happened again"})
    assert fetch(db_session, request_id).status == "open"


def test_my_requests_for_practice_users(client: FlaskClient, db_session: Session, widget_headers: Callable[..., Any],
                                        app: Flask) -> None:
    def create(practice: str, user: str, subject: str) -> int:
        response = client.post("/api/v1/requests", headers=widget_headers(practice, user),
                               json={"subject": subject, "description": "d"})
        return int(response.get_json()["id"])

    mine, colleague, other = create("P1", "u-1", "Mine"), create("P1", "u-2", "Colleague's"), create("P2", "u-9", "Other")
    browser = app.test_client()
    assert "Open the help widget" in browser.get("/hc/requests").text
    sign_in_practice_user(browser, "P1", "u-1")
    listed = set(map(int, re.findall(r'href="/hc/requests/(\d+)"', browser.get("/hc/requests").text)))
    assert listed == {mine}
    assert browser.get(f"/hc/requests/{colleague}").status_code == 404
    assert browser.get(f"/hc/requests/{other}").status_code == 404
    admin = app.test_client()
    sign_in_practice_user(admin, "P1", "boss", admin=True)
    listed = set(map(int, re.findall(r'href="/hc/requests/(\d+)"', admin.get("/hc/requests").text)))
    assert listed == {mine, colleague}
    assert admin.get(f"/hc/requests/{other}").status_code == 404


def test_the_agent_page_shows_the_practice_diagnostics(client: FlaskClient, agent_client: FlaskClient,
                                                       db_session: Session, world: None,
                                                       widget_headers: Callable[..., Any]) -> None:
    response = client.post("/api/v1/requests", headers=widget_headers("P1", "u-1"),
                           json={"subject": "Patient Smith not in diary", "description": "d",
                                 "booking_reference": "BK-1"})
    request_id = response.get_json()["id"]
    page = agent_client.get(f"/console/requests/{request_id}")
    assert page.status_code == 200
    html = page.text
    assert "Riverside Dental" in html and "Booking BK-1" in html and "when submitted" in html
    assert "Health" in html and "Collision" in html
    # Addresses wrap after "@" and before ".", not inside a name (and stay escaped).
    assert "<dd>front@<wbr>riverside<wbr>.test</dd>" in html and "&lt;pat@<wbr>p<wbr>.test&gt;" in html
    assert "Jane Smith" not in html, "patient names stay masked"
    audit = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "view_diagnostics")).all()
    assert any(a.target == f"request:{request_id}" and a.practice_id == "P1" for a in audit)


def test_console_pages_need_an_agent(client: FlaskClient, db_session: Session) -> None:
    assert client.get("/console/requests").status_code == 302
    assert client.get("/console/requests/1").status_code == 302


def test_practice_users_read_times_in_their_practice_time_zone(client: FlaskClient, ingest: Any, app: Flask,
                                                                widget_headers: Callable[..., Any]) -> None:
    ingest(practice_upserted("P1", timezone_name="America/New_York"))
    response = client.post("/api/v1/requests", headers=widget_headers("P1", "u-1"), json={"subject": "Zone", "description": "d"})
    request_id = response.get_json()["id"]
    browser = app.test_client()
    sign_in_practice_user(browser, "P1", "u-1")
    assert "EST" in browser.get("/hc/requests").text
    page = browser.get(f"/hc/requests/{request_id}").text
    assert "EST" in page
    assert re.search(r'<time [^>]*class="quiet small">[^<]*EST</time>', page), "the comments' times too"
