"""The chat pages (in-process, on the suite's database): the console chat page (its presence, its
booking links) and its canned replies, the widget's chat page, the console's socket token, and the
chat transcript on the pages of a request made from a chat."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from chat import service
from helpdesk.core.agents import NewAgent
from helpdesk.core.auth import authenticate_socket, console_socket_token
from helpdesk.core.canned import CannedReply
from helpdesk.core.clock import utcnow
from helpdesk.core.errors import DomainError
from helpdesk.core.text import BOOKING_REFERENCE_RE
from helpdesk.core.views import local_time
from tests.factories import (
    make_booking,
    make_conversation,
    make_practice,
    practice_user,
)
from tests.helpdesk.requests.helpers import sign_in_practice_user
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


def test_the_console_chat_page_opens_in_the_presence_the_agent_last_chose(signed_in: FlaskClient, agent: NewAgent,
                                                                         db_session: Session) -> None:
    fresh = signed_in.get("/console/chat").text
    assert '<option value="offline" selected>Offline</option>' in fresh  # a new agent starts offline, and says so
    assert 'id="capacity" type="number" min="1" max="20" value="3"' in fresh
    service.set_presence(db_session, agent.agent, "online", 5, utcnow())
    db_session.commit()
    reloaded = signed_in.get("/console/chat").text
    assert '<option value="online" selected>Online</option>' in reloaded
    assert '<option value="offline">Offline</option>' in reloaded
    assert 'id="capacity" type="number" min="1" max="20" value="5"' in reloaded


def test_the_console_chat_page_gives_its_script_the_one_booking_reference_pattern_and_link(
        signed_in: FlaskClient) -> None:
    page = signed_in.get("/console/chat").text
    assert f'data-reference-pattern="{BOOKING_REFERENCE_RE.pattern}"' in page
    assert 'data-booking-url="/console/practices/PRACTICE_ID?booking=REFERENCE"' in page


def test_a_request_made_from_a_chat_shows_the_chat_transcript_to_the_agent_and_to_the_practice(
        signed_in: FlaskClient, agent: NewAgent, db_session: Session, app_context: None) -> None:
    practice = make_practice(db_session, name="Riverside Dental")
    booking = make_booking(db_session, practice, "RVD-V1EW01", trait="collision")
    pat = practice_user(practice, name="Pat Reception", email="pat@riverside.test")
    service.set_presence(db_session, agent.agent, "online", 3, utcnow())
    service.connection_opened(db_session, agent.agent.id, "sid-console", "test", utcnow())
    conversation = make_conversation(db_session, pat, accepted_by=agent,
                                     first_message="Booking rvd-v1ew01 <script>alert(1)</script> is missing")
    said = service.send_message(db_session, agent.agent, conversation.id, "a-1", "Looking at it now.", utcnow()).message
    service.to_request(db_session, agent.agent, conversation, utcnow())
    db_session.commit()
    request_id = conversation.request_id

    console = signed_in.get(f"/console/requests/{request_id}").text
    transcript = console.split('id="chat-transcript-title"', 1)[1]
    assert "Chat transcript" in console and f"made from chat #{conversation.id}" in transcript
    assert ('<a class="booking-ref" href="/console/practices/' + practice.id + f'?booking={booking.reference}">rvd-v1ew01</a>'
            " &lt;script&gt;alert(1)&lt;/script&gt; is missing") in transcript
    assert "<strong>Ada Agent</strong> <span class=\"quiet\">Support</span>" in transcript
    assert "<strong>Pat Reception</strong> <span class=\"quiet\">Practice</span>" in transcript
    assert local_time(said.created_at, practice.timezone) in transcript  # in the practice's zone

    sign_in_practice_user(signed_in, practice_id=practice.id, user_id=pat.user_id, email=pat.email)
    mine = signed_in.get(f"/hc/requests/{request_id}").text
    transcript = mine.split('id="chat-transcript-title"', 1)[1]
    assert "Looking at it now." in transcript and "<strong>Ada Agent</strong>" in transcript
    assert "?booking=" not in transcript and "&lt;script&gt;" in transcript  # no console links for the practice
