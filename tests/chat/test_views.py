"""The chat pages (in-process, on the suite's database): the console chat page and its canned
replies, the widget's chat page, and the console's socket token."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.core.agents import NewAgent
from helpdesk.core.auth import authenticate_socket, console_socket_token
from helpdesk.core.canned import CannedReply
from helpdesk.core.errors import DomainError
from tests.helpdesk.test_console import agent, csrf_token, post_form, signed_in  # noqa: F401 (fixtures)


def test_the_console_chat_page_needs_a_login(client: FlaskClient) -> None:
    response = client.get("/console/chat")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_the_console_chat_page_carries_a_socket_token_for_the_agent(signed_in: FlaskClient, agent: NewAgent,
                                                                    app: Flask) -> None:
    page = signed_in.get("/console/chat")
    assert page.status_code == 200
    assert 'href="/console/chat"' in page.text  # the console's nav links to it
    assert "vendor/socket.io.min.js" in page.text
    token = page.text.split('data-socket-token="', 1)[1].split('"', 1)[0]
    with app.test_request_context():
        found = authenticate_socket({"token": token})
        assert found.id == agent.agent.id
        with pytest.raises(DomainError):
            authenticate_socket({"token": token[:-2] + "xx"})


def test_a_changed_password_ends_console_socket_tokens(app: Flask, db_session: Session, agent: NewAgent) -> None:
    from helpdesk.core.passwords import hash_password

    with app.test_request_context():
        token = console_socket_token(agent.agent)
        agent.agent.password_hash = hash_password("a brand new password")
        db_session.commit()
        with pytest.raises(DomainError):
            authenticate_socket({"token": token})


def test_agents_manage_canned_replies(signed_in: FlaskClient, db_session: Session) -> None:
    saved = post_form(signed_in, "/console/chat/canned", "/console/chat", shortcode="/Greet", title="Greeting",
                      body="Hello, how can I help?")
    assert saved.status_code == 302
    reply = db_session.scalar(select(CannedReply).where(CannedReply.shortcode == "greet"))
    assert reply is not None and reply.body == "Hello, how can I help?"
    page = signed_in.get("/console/chat").text
    assert "/greet" in page
    refused = post_form(signed_in, "/console/chat/canned", "/console/chat", shortcode="no spaces!", title="x", body="y")
    assert refused.status_code == 302
    assert "Not saved" in signed_in.get("/console/chat").text
    assert signed_in.post("/console/chat/canned/greet/delete", data={}).status_code == 400  # no CSRF token
    deleted = signed_in.post("/console/chat/canned/greet/delete", data={"csrf_token": csrf_token(page)})
    assert deleted.status_code == 302
    assert db_session.scalar(select(CannedReply).where(CannedReply.shortcode == "greet")) is None


def test_the_widget_chat_page_is_served_without_any_outside_script(client: FlaskClient) -> None:
    page = client.get("/widget/chat")
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'self'" in policy
    assert "http" not in page.text.split("<script", 1)[1]  # scripts come from this server only
    vendor = client.get("/console/chat/static/vendor/socket.io.min.js")
    assert vendor.status_code == 200 and b"Socket.IO v4.8.4" in vendor.data
