"""Following is double opt-in: a typed address is emailed a signed link (through the outbox, to a
real SMTP server) and hears about changes only once it confirms; confirming twice is harmless, an
unconfirmed follow expires, and unfollowing keeps working."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.core.agents import NewAgent
from helpdesk.core.clock import advance, frozen_at, utcnow
from helpdesk.outbox.sender import PassReport, send_pending
from kb import service
from kb.models import Article, Follow, Notification
from tests.helpdesk.outbox import servers
from tests.helpdesk.outbox.servers import SmtpServer, parts
from tests.kb.conftest import World, fields, post_form

smtp_server, smtp = servers.smtp_server, servers.smtp  # the real SMTP server's fixtures
ADDRESS = "front.desk@riverside.test"
CONFIRM_LINK = re.compile(r"http://help\.test(/hc/follows/confirm/\S+)")


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp_server: SmtpServer) -> dict[str, Any]:
    return {**app_config, "SMTP_URL": smtp_server.url, "PUBLIC_URL": "http://help.test",
            "MAIL_FROM": "Practice Helpdesk <support@help.test>"}


def deliver(app: Flask) -> PassReport:
    with app.app_context():
        from helpdesk.core import db

        return send_pending(db.session(), app.config)


def confirmation_link(message: EmailMessage) -> str:
    text, html = parts(message)
    found = CONFIRM_LINK.search(text)
    assert found, text
    assert found.group(0) in html
    return found.group(1)


def edit(app: Flask, db_session: Session, editor: NewAgent, article_id: int, extra: str) -> None:
    article = db_session.get_one(Article, article_id)
    with app.app_context():
        service.update_article(db_session, editor.agent, article, fields(
            article.title, article.body + extra, labels=article.labels, keys=article.keys, promoted=article.promoted))
    db_session.commit()


def test_a_typed_address_follows_only_once_it_confirms_by_email(
        app: Flask, client: FlaskClient, db_session: Session, world: World, editor: NewAgent, smtp: SmtpServer) -> None:
    path = world.collision.path
    response = post_form(client, f"/hc/articles/{world.collision.id}/follow", path, email=ADDRESS)
    assert response.status_code == 302
    page = client.get(path).text
    assert f"Almost done: we have emailed {ADDRESS} a link to confirm" in page
    assert f"Waiting for you to confirm: open the link we emailed to <strong>{ADDRESS}</strong>" in page

    deliver(app)
    [message] = smtp.inbox.wait_for(1)
    assert message["To"] == ADDRESS and message["Subject"] == "Please confirm: follow updates in the Help Center"
    assert 'the article "What is a booking collision?"' in parts(message)[0]
    link = confirmation_link(message)

    # Not confirmed yet: an edit tells nobody.
    edit(app, db_session, editor, world.collision.id, "\n\nA first change.")
    assert db_session.scalars(select(Notification)).all() == []

    # Opening the link only asks (mail scanners open links too); the button confirms.
    asking = client.get(link)
    assert asking.status_code == 200 and "Confirm you want these emails" in asking.text
    assert db_session.scalars(select(Follow)).one().confirmed_at is None
    confirmed = post_form(client, link, path)
    assert confirmed.status_code == 200 and "You now follow this" in confirmed.text
    again = post_form(client, link, path)
    assert again.status_code == 200 and "You already follow this" in again.text
    assert "You already follow this" in client.get(link).text

    edit(app, db_session, editor, world.collision.id, "\n\nA second change.")
    [notification] = db_session.scalars(select(Notification)).all()
    assert notification.email == ADDRESS and notification.kind == "article_updated"
    deliver(app)
    smtp.inbox.wait_for(2)
    update = smtp.inbox.to(ADDRESS)[-1]
    assert update["Subject"] == f"Article updated: {world.collision.title}"

    # The unfollow link in that email still works without signing in.
    unfollow = re.search(r"http://help\.test(/hc/unfollow/\S+)", parts(update)[0])
    assert unfollow
    assert "You no longer follow this" in post_form(client, unfollow.group(1), path).text
    assert db_session.scalars(select(Follow)).all() == []
    gone = post_form(client, link, path)
    assert gone.status_code == 410 and "This link no longer works" in gone.text


def test_following_again_while_waiting_sends_no_second_email(
        app: Flask, client: FlaskClient, world: World, smtp: SmtpServer) -> None:
    follow_url = f"/hc/sections/{world.section.id}/follow"
    section_page = f"/hc/sections/{world.section.id}-{world.section.slug}"
    for _ in range(3):
        post_form(client, follow_url, section_page, email=ADDRESS)
    assert deliver(app).sent == 1
    assert 'the section "Missing bookings"' in parts(smtp.inbox.wait_for(1)[0])[0]


def test_an_unconfirmed_follow_expires_and_following_again_asks_again(
        app: Flask, client: FlaskClient, db_session: Session, world: World, smtp: SmtpServer) -> None:
    path = world.collision.path
    with frozen_at(utcnow()):
        post_form(client, f"/hc/articles/{world.collision.id}/follow", path, email=ADDRESS)
        deliver(app)
        link = confirmation_link(smtp.inbox.wait_for(1)[0])
        advance(timedelta(days=service.FOLLOW_CONFIRM_DAYS, minutes=1))

        late = post_form(client, link, path)
        assert late.status_code == 410 and "Confirmation links work for 7 days" in late.text
        assert db_session.scalars(select(Follow)).one().confirmed_at is None

        post_form(client, f"/hc/articles/{world.collision.id}/follow", path, email=ADDRESS)  # asks again
        deliver(app)
        fresh = confirmation_link(smtp.inbox.wait_for(2)[1])
        assert "You now follow this" in post_form(client, fresh, path).text

        other = world.connection.path
        post_form(client, f"/hc/articles/{world.connection.id}/follow", other, email="someone@else.test")
        advance(timedelta(days=service.FOLLOW_CONFIRM_DAYS, minutes=1))
        deliver(app)  # each send pass drops the follows left unconfirmed too long
    db_session.expire_all()
    assert [(f.article_id, f.email) for f in db_session.scalars(select(Follow))] == [(world.collision.id, ADDRESS)]


def test_a_forged_confirmation_link_confirms_nothing(
        app: Flask, client: FlaskClient, db_session: Session, world: World, smtp: SmtpServer) -> None:
    post_form(client, f"/hc/articles/{world.collision.id}/follow", world.collision.path, email=ADDRESS)
    follow = db_session.scalars(select(Follow)).one()
    for forged in ("/hc/follows/confirm/x", f"/hc/follows/confirm/{follow.token}"):
        response = post_form(client, forged, world.collision.path)
        assert response.status_code == 410, forged
    db_session.expire_all()
    assert db_session.get_one(Follow, follow.id).confirmed_at is None


def test_the_signed_in_users_own_address_needs_no_confirmation(
        app: Flask, client: FlaskClient, db_session: Session, world: World, smtp: SmtpServer,
        widget_token: Callable[..., str]) -> None:
    client.post("/hc/session", data={"token": widget_token(email="pat@riverside.test")})
    post_form(client, f"/hc/articles/{world.collision.id}/follow", world.collision.path)
    assert "Following. We will email pat@riverside.test about updates." in client.get(world.collision.path).text
    assert db_session.scalars(select(Follow)).one().confirmed_at is not None
    assert deliver(app).sent == 0
