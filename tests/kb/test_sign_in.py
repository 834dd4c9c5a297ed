"""Signing a practice user in to the Help Center: the header's "My requests" and "Sign in", and the
widget's one-time hand-off (a link with a random secret that works once, for two minutes) that lets "Open in
the Help Center" land signed in, ready to comment."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk import create_app
from helpdesk.core import db
from helpdesk.core.clock import advance, frozen_at, utcnow
from kb import service
from kb.models import Comment, SessionHandoff
from tests.kb.conftest import World, post_form


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "DEMO_PORTAL": False, "PORTAL_URL": "https://portal.bookwell.test/login"}


def handoff_link(client: FlaskClient, token: str, next_path: str) -> str:
    """What the widget's "Open in the Help Center" asks for, with the panel's widget token."""
    response = client.post("/api/v1/kb/session-handoff", json={"next": next_path},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    body = response.get_json()
    assert body["expires_in"] == service.HANDOFF_SECONDS
    assert token not in body["url"]  # the widget token never goes in a URL
    return str(body["url"])


def test_the_header_offers_my_requests_and_sign_in_then_who_is_signed_in(
        client: FlaskClient, world: World, widget_token: Callable[..., str]) -> None:
    page = client.get(world.collision.path).text
    assert '<a href="/hc/requests">My requests</a>' in page
    assert f'href="/hc/sign-in?next={world.collision.path}">Sign in</a>' in page
    assert "Sign out" not in page

    sign_in = client.get(f"/hc/sign-in?next={world.collision.path}").text
    assert "There is no separate password" in sign_in and "Open in the Help Center" in sign_in
    assert '<a href="https://portal.bookwell.test/login">open the portal</a>' in sign_in

    client.get(handoff_link(client, widget_token(name="Pat Staff"), world.collision.path))
    page = client.get(world.collision.path).text
    assert "Signed in as Pat Staff" in page and "Sign out" in page and ">Sign in</a>" not in page
    assert "You are signed in as <strong>Pat Staff</strong> (pat@p.test)" in client.get("/hc/sign-in").text
    assert "/hc/requests" in client.get("/hc/sign-in").text


def test_the_sign_in_page_points_at_the_demo_portal_when_it_is_served(app_config: dict[str, Any]) -> None:
    demo = create_app({**app_config, "DEMO_PORTAL": True, "PORTAL_URL": None})
    try:
        assert '<a href="/demo/portal">open the portal</a>' in demo.test_client().get("/hc/sign-in").text
    finally:
        db.get_engine(demo).dispose()


def test_from_a_widget_link_to_a_comment_posted_as_that_user(
        client: FlaskClient, db_session: Session, world: World, widget_token: Callable[..., str]) -> None:
    article = world.collision.path
    link = handoff_link(client, widget_token(practice_id="P7", user_id="u-42", name="Robin Reception",
                                             email="robin@p7.test"), article)
    assert urlsplit(link).path == "/hc/session/handoff"
    secret = parse_qs(urlsplit(link).query)["token"][0]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret)  # a random secret: no name, email or practice to read
    stored = db_session.scalars(select(SessionHandoff)).one()
    assert stored.id != secret and secret not in stored.id  # the table keeps only its hash
    landing = client.get(link)
    assert landing.status_code == 303 and landing.headers["Location"] == article
    assert landing.headers["Referrer-Policy"] == "no-referrer"
    page = client.get(article).text
    assert "Add a comment as Robin Reception" in page and "open this article from the help widget" not in page

    assert post_form(client, f"/hc/articles/{world.collision.id}/comments", article,
                     body="Which alert email gets this?").status_code == 302
    comment = db_session.scalars(select(Comment)).one()
    assert (comment.practice_id, comment.user_id, comment.author_name, comment.author_email) == \
        ("P7", "u-42", "Robin Reception", "robin@p7.test")
    assert "awaiting moderation" in client.get(article).text


def test_a_used_or_expired_handoff_is_refused_with_a_clear_message(
        client: FlaskClient, world: World, widget_token: Callable[..., str]) -> None:
    article = world.collision.path
    with frozen_at(utcnow()):
        link = handoff_link(client, widget_token(), article)
        assert client.get(link).status_code == 303
        stranger = client.application.test_client()  # the same link, copied from a log or a history
        replayed = stranger.get(link)
        assert replayed.status_code == 401
        assert "This sign-in link has already been used: each one works once." in replayed.text
        assert "Open the Help Center again from the help widget" in replayed.text
        assert "Signed in as" not in stranger.get(article).text

        late = handoff_link(client, widget_token(), article)
        advance(timedelta(seconds=service.HANDOFF_SECONDS + 1))
        expired = stranger.get(late)
        assert expired.status_code == 401 and "This sign-in link has expired: it works for 2 minutes." in expired.text
        assert "Signed in as" not in stranger.get(article).text

    tampered = stranger.get(link[:-3] + "abc")
    assert tampered.status_code == 401 and "This sign-in link is not valid." in tampered.text


def test_a_handoff_ends_with_the_widget_token_and_goes_only_into_the_help_center(
        client: FlaskClient, world: World, widget_token: Callable[..., str]) -> None:
    headers = {"Authorization": f"Bearer {widget_token()}"}
    for target in ("https://evil.test/", "//evil.test/hc", "/console/kb", "/hc\\@evil.test", 12, None):
        response = client.post("/api/v1/kb/session-handoff", json={"next": target}, headers=headers)
        assert response.status_code == 422, target
    assert client.post("/api/v1/kb/session-handoff", json={"next": "/hc"}).status_code == 401
    with frozen_at(utcnow()):
        token = widget_token()  # valid for an hour: the Help Center session ends with it
        client.get(handoff_link(client, token, "/hc"))
        assert "Signed in as" in client.get("/hc").text
        advance(timedelta(hours=1, seconds=1))
        assert "Signed in as" not in client.get("/hc").text
