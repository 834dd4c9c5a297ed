"""Helpers for the request tests: forms with their CSRF token, files by their magic bytes."""

from __future__ import annotations

import io
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from helpdesk.core import db
from helpdesk.core.clock import unix_now
from helpdesk.outbox.models import OutboxMessage
from helpdesk.outbox.sender import PassReport, send_pending
from helpdesk.requests.models import Request, RequestAttachment, RequestComment

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*?value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def log_in(client: FlaskClient, email: str, password: str) -> None:
    token = csrf_token(client.get("/console/login").text)
    response = client.post("/console/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 303, response.text


def sign_in_practice_user(client: FlaskClient, practice_id: str = "P1", user_id: str = "u-1",
                          email: str = "pat@riverside.test", admin: bool = False, name: str = "Pat Staff") -> None:
    """What the Help Center's ``/hc/session?token=`` leaves in the cookie (helpdesk.auth)."""
    with client.session_transaction() as session:
        session["practice_user"] = {"user_id": user_id, "practice_id": practice_id, "name": name,
                                    "email": email, "is_admin": admin, "expires_at": unix_now() + 3600}


def files(*named: tuple[str, bytes]) -> list[tuple[io.BytesIO, str]]:
    return [(io.BytesIO(data), name) for name, data in named]


def post_with_csrf(client: FlaskClient, url: str, page: str, data: dict[str, Any]) -> TestResponse:
    token = csrf_token(client.get(page).text)
    return client.post(url, data={"csrf_token": token, **data}, content_type="multipart/form-data")


def submit_form(client: FlaskClient, attachments: list[tuple[io.BytesIO, str]] | None = None,
                **fields: str) -> TestResponse:
    data: dict[str, Any] = {"email": "sam@example.test", "name": "Sam Requester", "subject": "Booking missing",
                            "description": "A patient arrived but the booking was not in our diary.", **fields}
    if attachments:
        data["attachments"] = attachments
    return post_with_csrf(client, "/hc/requests/new", "/hc/requests/new", data)


def deliver(app: Flask) -> PassReport:
    with app.app_context():
        return send_pending(db.session(), app.config)


def counts(session: Session) -> dict[str, int]:
    """Rows in every table a submission writes: bad input must leave them all unchanged."""
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Request, RequestComment, RequestAttachment, OutboxMessage)
    }


def link_in(text: str) -> str:
    match = re.search(r"http://help\.test(/\S+)", text)
    assert match, f"no link in {text!r}"
    return match.group(1)


def fetch(session: Session, request_id: int) -> Request:
    """The request as stored now."""
    found = session.get(Request, request_id, populate_existing=True)
    assert found is not None
    return found
