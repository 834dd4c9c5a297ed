"""The workspace's console pages: header search and results, counts, profile (tokens, password,
preferences), the reports page, /favicon.ico and the navigation's active state."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from chat.models import Conversation
from helpdesk.core.agents import ApiToken, NewAgent, create_agent
from helpdesk.requests.models import Request
from helpdesk.workspace.models import AgentPreference
from tests.helpdesk.console_world import practice_world

PASSWORD = "correct horse battery staple"


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*?value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


@pytest.fixture
def agent(db_session: Session) -> NewAgent:
    created = create_agent(db_session, "ada@helpdesk.test", "Ada Agent", password=PASSWORD)
    db_session.commit()
    return created


@pytest.fixture
def signed_in(client: FlaskClient, agent: NewAgent) -> FlaskClient:
    token = csrf_token(client.get("/console/login").text)
    response = client.post("/console/login", data={"email": agent.agent.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303
    return client


def post_profile(client: FlaskClient, expect: int = 303, **form: str) -> Any:
    token = csrf_token(client.get("/console/profile").text)
    response = client.post("/console/profile", data={"csrf_token": token, **form})
    assert response.status_code == expect, response.text
    return response


def test_every_console_page_has_the_search_box_and_shortcuts(signed_in: FlaskClient) -> None:
    for path in ("/console/practices", "/console/requests", "/console/chat", "/console/kb", "/console/reports"):
        html = signed_in.get(path).text
        assert 'id="header-search-q"' in html and 'id="shortcuts-help"' in html, path
        assert "<script>" not in html.replace("<script src", "")  # no inline script (CSP)
        current = re.findall(r'<a href="([^"]+)" aria-current="page"', html)
        assert current and path.startswith(current[0].split("?")[0].rstrip("/")), (path, current)


def test_the_results_page_groups_by_kind_and_opens_a_booking_in_its_practice(
        signed_in: FlaskClient, ingest: Callable[..., Any]) -> None:
    ingest(*practice_world("P1", "Riverside Dental", "BK"))
    html = signed_in.get("/console/search?q=Riverside").text
    assert 'data-kind="practice"' in html and 'href="/console/practices/P1"' in html
    html = signed_in.get("/console/search?q=BK-1").text
    assert 'data-kind="booking"' in html and 'href="/console/practices/P1?booking=BK-1"' in html
    one = signed_in.get("/console/search?q=BK-1&go=1")
    assert one.status_code == 303 and one.headers["Location"] == "/console/practices/P1?booking=BK-1"
    assert "Diary" in signed_in.get(one.headers["Location"]).text
    assert "Nothing matches" in signed_in.get("/console/search?q=zzzz").text
    assert signed_in.get("/console/search?q=" + "x" * 300).status_code == 400


def test_counts_for_the_navigation(signed_in: FlaskClient, agent: NewAgent, db_session: Session) -> None:
    other = create_agent(db_session, "bo@helpdesk.test", "Bo Agent")
    db_session.add_all([
        Conversation(practice_id="P1", requester_id="u1", status="waiting"),
        Conversation(practice_id="P1", requester_id="u2", status="waiting"),
        Conversation(practice_id="P1", requester_id="u3", status="active", agent_id=agent.agent.id, last_seq=4, agent_read_seq=2),
        Conversation(practice_id="P1", requester_id="u4", status="active", agent_id=agent.agent.id, last_seq=3, agent_read_seq=3),
        Conversation(practice_id="P1", requester_id="u5", status="active", agent_id=other.agent.id, last_seq=3),
        Request(subject="mine", requester_email="a@p.test", status="open", assignee_id=agent.agent.id),
        Request(subject="done", requester_email="a@p.test", status="solved", assignee_id=agent.agent.id),
    ])
    db_session.commit()
    body = signed_in.get("/api/v1/workspace/counts").get_json()
    assert body == {"waiting_chats": 2, "my_chats": 2, "my_unread_chats": 1, "my_requests": 1, "open_incidents": 0,
                    "attention": 3}
    html = signed_in.get("/console/practices").text
    assert re.search(r'data-count="waiting_chats"[^>]*>.*?<span data-count-value>2</span>', html)
    assert signed_in.application.test_client().get("/api/v1/workspace/counts").status_code == 401


def test_profile_tokens_are_created_shown_once_and_revoked(signed_in: FlaskClient, agent: NewAgent,
                                                            db_session: Session) -> None:
    created = post_profile(signed_in, 200, action="create_token", label="reporting script")
    token = re.search(r"data-new-token>([^<]+)<", created.text).group(1)  # type: ignore[union-attr]
    api = signed_in.application.test_client()
    assert api.get("/api/v1/reports", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    row = db_session.scalar(select(ApiToken).where(ApiToken.label == "reporting script"))
    assert row is not None and token not in signed_in.get("/console/profile").text
    post_profile(signed_in, action="revoke_token", token_id=str(row.id))
    assert api.get("/api/v1/reports", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "Revoked" in signed_in.get("/console/profile").text
    # not someone else's token, not an empty label
    other = create_agent(db_session, "bo@helpdesk.test", "Bo Agent")
    db_session.commit()
    theirs = db_session.scalar(select(ApiToken).where(ApiToken.agent_id == other.agent.id))
    assert "no token with that id" in post_profile(signed_in, 400, action="revoke_token", token_id=str(theirs.id)).text
    assert post_profile(signed_in, 400, action="create_token", label="  ").status_code == 400


def test_name_password_and_preferences(signed_in: FlaskClient, agent: NewAgent, db_session: Session) -> None:
    post_profile(signed_in, action="name", name="Ada Lovelace")
    assert "Ada Lovelace" in signed_in.get("/console/profile").text
    assert "not right" in post_profile(signed_in, 400, action="password", current_password="nope",
                                       new_password="x" * 12, repeat_password="x" * 12).text
    assert "differ" in post_profile(signed_in, 400, action="password", current_password=PASSWORD,
                                    new_password="a" * 12, repeat_password="b" * 12).text
    post_profile(signed_in, action="password", current_password=PASSWORD, new_password="a much better secret",
                 repeat_password="a much better secret")
    assert signed_in.get("/console/profile").status_code == 200  # this session survives the change
    post_profile(signed_in, action="preferences", timezone="Australia/Brisbane", sound="on")
    prefs = db_session.get(AgentPreference, agent.agent.id)
    assert prefs is not None and (prefs.timezone, prefs.sound, prefs.desktop) == ("Australia/Brisbane", True, False)
    assert 'data-sound="on"' in signed_in.get("/console/practices").text
    assert post_profile(signed_in, 400, action="preferences", timezone="Nowhere/Land").status_code == 400
    assert signed_in.get("/api/v1/reports/volume").get_json()["tz"] == "Australia/Brisbane"


def test_the_reports_page_draws_charts_with_tables(signed_in: FlaskClient) -> None:
    html = signed_in.get("/console/reports").text
    assert html.count("<svg") == 3 and 'data-table="by_day"' in html
    for name in ("response", "csat", "diagnosis", "diary", "outages", "alerts"):
        assert signed_in.get(f"/console/reports/{name}").status_code == 200, name
    assert signed_in.get("/console/reports/nope").status_code == 404
    assert signed_in.get("/console/reports?tz=Mars/Base").status_code == 400


def test_favicon_is_served(client: FlaskClient) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/x-icon"
    assert response.data[:4] == b"\x00\x00\x01\x00"


def test_the_root_leads_people_to_the_help_center_and_agents_to_the_console(client: FlaskClient, agent: NewAgent) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert 'href="/hc"' in page.text and 'href="/console/login"' in page.text
    assert client.get("/hc").status_code == 200  # the link goes somewhere
    token = csrf_token(client.get("/console/login").text)
    client.post("/console/login", data={"email": agent.agent.email, "password": PASSWORD, "csrf_token": token})
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/console/practices"


def test_a_requests_booking_reference_opens_its_diagnosis(signed_in: FlaskClient, db_session: Session) -> None:
    req = Request(subject="Missing booking", requester_email="pat@p.test", practice_id="P1", booking_reference="BK-1")
    db_session.add(req)
    db_session.commit()
    html = signed_in.get(f"/console/requests/{req.id}").text
    assert 'href="/console/practices/P1?booking=BK-1"' in html
