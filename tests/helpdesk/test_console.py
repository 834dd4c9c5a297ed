"""The agent console: login, CSRF, rate limit, practice search, the diagnostics page, masking and audit."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from helpdesk.core import db
from helpdesk.core.agents import Agent, NewAgent, create_agent
from helpdesk.core.audit import AuditEntry
from tests.helpdesk.console_world import COLLISION_DETAIL, practice_world
from tests.helpdesk.factories import (
    booking_created,
    connector_event,
    diary_failed,
    practice_upserted,
)

PASSWORD = "correct horse battery staple"
PRACTICE = "/console/practices/P1"


@pytest.fixture
def agent(db_session: Session) -> NewAgent:
    """An agent with a known password (the shared fixture's is generated)."""
    created = create_agent(db_session, "ada@helpdesk.test", "Ada Agent", password=PASSWORD)
    db_session.commit()
    return created


@pytest.fixture
def world(ingest: Callable[..., Any]) -> None:
    ingest(*practice_world())


@pytest.fixture
def signed_in(client: FlaskClient, agent: NewAgent) -> FlaskClient:
    response = log_in(client, agent.agent.email, PASSWORD)
    assert response.status_code == 303, response.text
    return client


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*?value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def log_in(client: FlaskClient, email: str, password: str, next_url: str = "") -> TestResponse:
    token = csrf_token(client.get("/console/login").text)
    return client.post("/console/login", data={"email": email, "password": password, "next": next_url,
                                                "csrf_token": token})


def post_form(client: FlaskClient, url: str, page: str, **data: str) -> TestResponse:
    """Submit a form the way the browser does: with the CSRF token of the page it came from."""
    return client.post(url, data={"csrf_token": csrf_token(client.get(page).text), **data})


def listed(page: str) -> set[str]:
    """The references in the bookings table (the timeline links bookings too)."""
    return set(re.findall(r'class="row-link" href="[^"]*"(?: aria-current="true")?>([^<]+)</a>', page))


def audit_log(session: Session, action: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


# --- login and logout ------------------------------------------------------------------------

def test_login_starts_a_session_and_records_the_login(client: FlaskClient, agent: NewAgent,
                                                       db_session: Session) -> None:
    response = log_in(client, "ADA@helpdesk.test", PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/practices"
    page = client.get("/console/practices")
    assert page.status_code == 200
    assert "Ada Agent" in page.text and "Log out" in page.text
    db_session.expire_all()
    assert db_session.get(Agent, agent.agent.id).last_login_at is not None


@pytest.mark.parametrize("email, password", [("ada@helpdesk.test", "wrong"), ("nobody@helpdesk.test", PASSWORD)])
def test_bad_credentials_get_one_generic_message(client: FlaskClient, agent: NewAgent, email: str,
                                                 password: str) -> None:
    response = log_in(client, email, password)
    assert response.status_code == 401
    assert "That email and password do not match an agent account." in response.text
    assert client.get("/console/practices").status_code == 302


def test_login_without_csrf_token_is_refused(client: FlaskClient, agent: NewAgent) -> None:
    response = client.post("/console/login", data={"email": "ada@helpdesk.test", "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.text
    assert client.get("/console/practices").status_code == 302


def test_login_is_rate_limited(client: FlaskClient, app: Flask, agent: NewAgent) -> None:
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    for _ in range(3):
        assert log_in(client, "ada@helpdesk.test", "guess").status_code == 401
    blocked = log_in(client, "ada@helpdesk.test", PASSWORD)
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.text
    assert client.get("/console/login").status_code == 200  # only attempts are limited, not the page


@pytest.mark.parametrize("next_url, landing", [
    ("/console/practices/P1?booking=BK-1", "/console/practices/P1?booking=BK-1"),
    ("https://evil.example/steal", "/console/practices"),
    ("//evil.example/steal", "/console/practices"),
    ("/\\evil.example", "/console/practices"),
    ("javascript:alert(1)", "/console/practices"),
])
def test_login_redirects_only_to_local_paths(client: FlaskClient, agent: NewAgent, next_url: str,
                                             landing: str) -> None:
    response = log_in(client, "ada@helpdesk.test", PASSWORD, next_url)
    assert response.headers["Location"] == landing


def test_pages_send_a_visitor_to_login_and_back(client: FlaskClient, agent: NewAgent, world: None) -> None:
    for url in ("/console/practices?q=river", PRACTICE):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/console/login?next=")
    login_page = client.get(client.get(PRACTICE + "?booking=BK-1").headers["Location"])
    token = csrf_token(login_page.text)
    next_url = re.search(r'id="next" name="next" type="hidden" value="([^"]*)"', login_page.text).group(1)
    response = client.post("/console/login", data={"email": "ada@helpdesk.test", "password": PASSWORD,
                                                   "next": next_url.replace("&amp;", "&"), "csrf_token": token})
    assert response.headers["Location"] == PRACTICE + "?booking=BK-1"


def test_logout_needs_csrf_and_ends_the_session(signed_in: FlaskClient) -> None:
    assert signed_in.post("/console/logout").status_code == 400
    assert signed_in.get("/console/practices").status_code == 200
    response = post_form(signed_in, "/console/logout", "/console/practices")
    assert response.status_code == 303 and response.headers["Location"] == "/console/login"
    assert "You have logged out." in signed_in.get("/console/login").text
    assert signed_in.get("/console/practices").status_code == 302


def test_root_and_console_lead_to_the_practice_search(signed_in: FlaskClient) -> None:
    for url in ("/", "/console", "/console/"):
        response = signed_in.get(url)
        assert response.status_code == 302 and response.headers["Location"] == "/console/practices"


# --- practice search -------------------------------------------------------------------------

def test_practice_search_shows_integration_and_connector(signed_in: FlaskClient, ingest: Callable[..., Any],
                                                         world: None) -> None:
    ingest(practice_upserted("P9", name="Riverbank Smiles", mode="sidebar", software=None),
           practice_upserted("P8", name="Hilltop Dental", software="ClinicDiary"),
           connector_event("connection_lost", "P8"))
    page = signed_in.get("/console/practices?q=river").text
    assert "Riverside Dental" in page and "Riverbank Smiles" in page and "Hilltop Dental" not in page
    assert "Integrated · DentaDesk" in page and "Sidebar (staff transfer by hand)" in page
    assert "Online" in page and "None (sidebar)" in page
    hilltop = signed_in.get("/console/practices?q=P8").text
    assert "Hilltop Dental" in hilltop and "Offline" in hilltop
    assert "No practice matches" in signed_in.get("/console/practices?q=nowhere").text


# --- the practice page -----------------------------------------------------------------------

def test_practice_page_shows_health_bookings_and_timeline(signed_in: FlaskClient, world: None) -> None:
    response = signed_in.get(PRACTICE)
    assert response.status_code == 200
    page = response.text
    assert "Times in <strong>Europe/London</strong>" in page
    assert "Connected since" in page and "Online" in page
    assert "33.3%" in page and "1 of 3 settled bookings reached the diary" in page
    assert listed(page) == {"BK-1", "BK-2", "BK-3"}
    assert "✗</span>Collision" in page and "✗</span>Connection lost" in page and "✓</span>Inserted" in page
    assert "2 of 3" in page and "3 of 3" in page
    assert "Diary insert failed" in page and "Connection restored" in page and COLLISION_DETAIL in page
    assert 'id="diagnosis"' not in page


def test_diagnosis_reads_at_a_glance(signed_in: FlaskClient, world: None) -> None:
    page = signed_in.get(PRACTICE + "?booking=BK-1").text
    assert "Received 2 of 3 ways: the bookings list and email; not by the diary" in page
    assert "booking collision: the slot was already taken in the diary" in page
    assert "Nobody was alerted: no alert email on record" in page
    assert "Escalate to engineering" in page
    assert "<code>diary_collision</code>" in page and "<code>alert_not_sent</code>" in page
    assert f"“{COLLISION_DETAIL}”" in page
    alerted = signed_in.get(PRACTICE + "?booking=BK-3").text
    assert "the connector had lost its connection" in alerted
    assert "Lost-connection alert" in alerted and "manager@<wbr>riverside<wbr>.test" in alerted
    assert "The connector was offline when the booking was made" in alerted


def test_unknown_booking_reference_is_named_with_404(signed_in: FlaskClient, world: None) -> None:
    response = signed_in.get(PRACTICE + "?booking=NOPE-1")
    assert response.status_code == 404
    assert "This practice has no booking with the reference “NOPE-1”." in response.text


def test_unknown_practice_is_a_404_page(signed_in: FlaskClient) -> None:
    response = signed_in.get("/console/practices/NO-SUCH")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "There is no practice with that id." in response.text and "Ada Agent" in response.text


def test_filters_and_older_link(signed_in: FlaskClient, app: Flask, world: None) -> None:
    assert listed(signed_in.get(PRACTICE + "?missed=1").text) == {"BK-1", "BK-3"}
    assert listed(signed_in.get(PRACTICE + "?diary_status=collision").text) == {"BK-1"}
    assert listed(signed_in.get(PRACTICE + "?q=haddad").text) == {"BK-2"}
    app.config["BOOKINGS_PAGE_SIZE"] = 2
    first = signed_in.get(PRACTICE).text
    older = re.search(r'href="([^"]+)" rel="next">Older</a>', first)
    assert older, "a full page links to older bookings"
    second = signed_in.get(older.group(1).replace("&amp;", "&")).text
    assert len(listed(first)) == 2 and listed(first) | listed(second) == {"BK-1", "BK-2", "BK-3"}
    assert "Older</a>" not in second and "Newer</a>" in second and "Newer</a>" not in first


def test_bad_filter_is_an_error_page_not_json(signed_in: FlaskClient, world: None) -> None:
    response = signed_in.get(PRACTICE + "?from=yesterday")
    assert response.status_code == 400
    assert response.mimetype == "text/html" and "from must be a date" in response.text


# --- masking, reveal and audit ---------------------------------------------------------------

def test_names_are_masked_until_revealed_and_the_reveal_is_audited(signed_in: FlaskClient, world: None,
                                                                   agent: NewAgent, db_session: Session) -> None:
    url = PRACTICE + "?booking=BK-1"
    page = signed_in.get(url).text
    assert "J. Sm…" in page and "Smith" not in page and "1980-04-02" not in page
    response = post_form(signed_in, PRACTICE + "/reveal", url, reference="BK-1", return_to=url)
    assert response.status_code == 303 and response.headers["Location"] == url
    revealed = signed_in.get(url).text
    assert "Jane Smith" in revealed and "born 1980-04-02" in revealed and "Omar Haddad" in revealed
    assert "Patient names shown until" in revealed
    [entry] = audit_log(db_session, "reveal_patient")
    assert (entry.agent_id, entry.practice_id, entry.target, entry.ip) == (agent.agent.id, "P1", "BK-1", "127.0.0.1")
    post_form(signed_in, PRACTICE + "/hide", url, return_to=url)
    assert "Jane Smith" not in signed_in.get(url).text


def test_reveal_needs_csrf_and_only_returns_to_its_own_page(signed_in: FlaskClient, world: None,
                                                            db_session: Session) -> None:
    assert signed_in.post(PRACTICE + "/reveal").status_code == 400
    assert audit_log(db_session, "reveal_patient") == []
    response = post_form(signed_in, PRACTICE + "/reveal", PRACTICE, return_to="https://evil.example/")
    assert response.headers["Location"] == PRACTICE
    assert post_form(signed_in, "/console/practices/NO-SUCH/reveal", PRACTICE).status_code == 404


def test_each_view_of_diagnostics_is_audited(signed_in: FlaskClient, world: None, agent: NewAgent,
                                             db_session: Session) -> None:
    signed_in.get(PRACTICE)
    signed_in.get(PRACTICE + "?booking=BK-3")
    views = audit_log(db_session, "view_diagnostics")
    assert [(v.agent_id, v.practice_id) for v in views] == [(agent.agent.id, "P1")] * 2
    [diagnosis] = audit_log(db_session, "view_diagnosis")
    assert (diagnosis.target, diagnosis.detail["found"], diagnosis.detail["revealed"]) == ("BK-3", True, False)


# --- escaping and speed ----------------------------------------------------------------------

def test_user_text_is_escaped(signed_in: FlaskClient, ingest: Callable[..., Any]) -> None:
    evil = "<script>alert(1)</script>"
    ingest(practice_upserted("PX", name=f"Evil {evil} Dental"),
           booking_created("X<b>1", "PX", first_name=evil, last_name=f"Doe{evil}"),
           diary_failed("rejected", "X<b>1", "PX", detail=f"refused {evil}"))
    url = "/console/practices/PX?booking=X%3Cb%3E1"
    post_form(signed_in, "/console/practices/PX/reveal", url, reference="X<b>1", return_to=url)
    pages = [signed_in.get(url).text, signed_in.get("/console/practices?q=evil").text]
    for page in pages:
        assert "<script>" not in page and "<b>1" not in page  # (the console's own <script src=...> tags are fine)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "refused &lt;script&gt;" in pages[0] and "Doe&lt;script&gt;" in pages[0]


@pytest.fixture
def statements(app: Flask) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = db.get_engine(app)
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_bookings_page_does_not_query_per_row(signed_in: FlaskClient, ingest: Callable[..., Any], world: None,
                                              statements: list[str]) -> None:
    signed_in.get(PRACTICE)
    few = len(statements)
    assert few > 3, "the listener sees the page's queries"
    ingest(*[booking_created(f"MORE-{n}", first_name="Ann", last_name=f"Lee{n}") for n in range(25)])
    statements.clear()
    page = signed_in.get(PRACTICE).text
    assert len(listed(page)) == 28
    assert len(statements) == few
