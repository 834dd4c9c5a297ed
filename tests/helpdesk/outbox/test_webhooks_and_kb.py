"""Webhooks out (signed POSTs for request created/updated) and KB follower notifications, both
delivered from the outbox."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.core.signing import verify_signature
from helpdesk.outbox import sender
from helpdesk.outbox.models import OutboxMessage
from tests.helpdesk.outbox.servers import SmtpServer, WebhookReceiver, parts

Headers = Callable[..., dict[str, str]]


@pytest.fixture
def app_config(app_config: dict[str, Any], webhook_receiver: WebhookReceiver) -> dict[str, Any]:
    return {**app_config, "WEBHOOK_URLS": [webhook_receiver.url], "WEBHOOK_SECRET": "hook-secret-0123456789"}


def deliver(app: Flask, session: Session) -> sender.PassReport:
    with app.app_context():
        return sender.send_pending(session, app.config)


def events(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    found = []
    for hook in receiver.received:
        # The receiver checks the signature exactly as the helpdesk checks the platform's ingest.
        verify_signature("hook-secret-0123456789", hook.headers["X-Helpdesk-Timestamp"],
                         hook.headers["X-Helpdesk-Signature"], hook.body, 300)
        body = json.loads(hook.body)
        assert hook.headers["X-Helpdesk-Event"] == body["event"]
        found.append(body)
    return found


def test_request_created_and_updated_webhooks(app: Flask, client: FlaskClient, db_session: Session,
                                              webhook_receiver: WebhookReceiver, widget_headers: Headers,
                                              agent_headers: dict[str, str]) -> None:
    created = client.post("/api/v1/requests", headers=widget_headers("P1", "u-1"),
                          json={"subject": "Hook me", "description": "d"}).get_json()
    client.post(f"/api/v1/requests/{created['id']}/comments", headers=agent_headers,
                json={"body": "SECRET internal", "public": False})
    client.patch(f"/api/v1/requests/{created['id']}", headers=agent_headers, json={"priority": "high"})
    report = deliver(app, db_session)
    assert report.failed == 0 and report.retrying == 0
    sent = events(webhook_receiver)
    assert [e["event"] for e in sent] == ["request.created", "request.updated", "request.updated"]
    assert sent[0]["data"]["request"]["id"] == created["id"] and sent[0]["data"]["request"]["status"] == "new"
    # The internal note opened the request: integrators hear of the status, never of the note.
    assert sent[1]["data"]["changes"] == {"status": {"from": "new", "to": "open"}}
    assert sent[2]["data"]["changes"] == {"priority": {"from": "normal", "to": "high"}}
    assert all("SECRET" not in hook.body.decode() for hook in webhook_receiver.received)
    assert len({e["id"] for e in sent}) == 3


def test_a_failing_endpoint_is_retried_and_a_gone_one_given_up(app: Flask, client: FlaskClient,
                                                               db_session: Session, webhook_receiver: WebhookReceiver,
                                                               widget_headers: Headers) -> None:
    client.post("/api/v1/requests", headers=widget_headers("P1", "u-1"), json={"subject": "s", "description": "d"})
    webhook_receiver.status = 503
    assert deliver(app, db_session).retrying == 1
    row = db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "webhook")).one()
    assert row.status == "pending" and "HTTP 503" in row.last_error
    webhook_receiver.status = 410
    with app.app_context():
        report = sender.send_pending(db_session, app.config, now=row.next_attempt_at)
    assert report.failed == 1
    row = db_session.get(OutboxMessage, row.id, populate_existing=True)
    assert row.status == "failed" and len(webhook_receiver.received) == 2


# --- KB follower notifications ----------------------------------------------------------------

kb_models = pytest.importorskip("kb.models", reason="the knowledge base package is not installed")


@pytest.fixture
def notification(app: Flask, db_session: Session) -> Iterator[Any]:
    row = kb_models.Notification(
        kind="article_updated", email="follower@example.test", subject="Updated: Booking collisions",
        body="The article “Booking collisions” was updated <b>today</b>.", url="http://help.test/hc/articles/1",
        unfollow_url="http://help.test/hc/unfollow/abc",
    )
    db_session.add(row)
    db_session.commit()
    yield row


def test_kb_notifications_are_sent_once_and_stamped(app: Flask, db_session: Session, smtp: SmtpServer,
                                                    notification: Any) -> None:
    report = deliver(app, db_session)
    assert report.sent == 1
    [message] = smtp.inbox.wait_for(1)
    assert message["To"] == "follower@example.test" and message["Subject"] == "Updated: Booking collisions"
    text, html = parts(message)
    assert "http://help.test/hc/articles/1" in text and "http://help.test/hc/unfollow/abc" in text
    assert "&lt;b&gt;today&lt;/b&gt;" in html
    notification = db_session.get(kb_models.Notification, notification.id, populate_existing=True)
    assert notification.sent_at is not None and notification.failed_at is None
    assert deliver(app, db_session).claimed == 0
    assert len(smtp.inbox.messages) == 1


def test_a_refused_kb_notification_is_stamped_failed(app: Flask, db_session: Session, smtp: SmtpServer,
                                                     notification: Any) -> None:
    smtp.inbox.refuse.add("follower@example.test")
    assert deliver(app, db_session).failed == 1
    notification = db_session.get(kb_models.Notification, notification.id, populate_existing=True)
    assert notification.failed_at is not None and "550" in notification.error and notification.sent_at is None
