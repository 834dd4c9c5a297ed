"""Fixtures for the kernel's hardening tests: an agent with a token, a widget token, signed ingest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from helpdesk.core.agents import NewAgent, create_agent
from helpdesk.core.auth import mint_widget_token
from helpdesk.core.clock import unix_now
from helpdesk.core.signing import sign

PASSWORD = "correct horse battery staple"


@pytest.fixture
def agent(db_session: Session) -> NewAgent:
    created = create_agent(db_session, "ada@helpdesk.test", "Ada Agent", role="admin", password=PASSWORD)
    db_session.commit()
    return created


@pytest.fixture
def agent_headers(agent: NewAgent) -> dict[str, str]:
    return {"Authorization": f"Bearer {agent.token}"}


@pytest.fixture
def user_headers(app: Flask) -> dict[str, str]:
    with app.app_context():
        return {"Authorization": f"Bearer {mint_widget_token('P1', 'u-1', 'Pat', 'pat@p1.test')}"}


@pytest.fixture
def signed(client: FlaskClient, app: Flask) -> Callable[[bytes | str], Any]:
    """POST raw bytes to the ingest endpoint, correctly signed (so the body itself is tested)."""

    def post(body: bytes | str) -> Any:
        raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        stamp = str(int(unix_now()))
        return client.post("/api/v1/ingest/events", data=raw, content_type="application/json", headers={
            "X-Helpdesk-Timestamp": stamp, "X-Helpdesk-Signature": sign(app.config["INGEST_SECRET"], stamp, raw)})

    return post
