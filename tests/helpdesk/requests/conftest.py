"""Fixtures for the request tests: a real SMTP server, a signed-in agent, a practice world."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpdesk.core.agents import NewAgent, create_agent
from helpdesk.outbox.sender import PassReport
from tests.helpdesk.console_world import practice_world
from tests.helpdesk.outbox.servers import (  # noqa: F401 (fixtures)
    SmtpServer,
    smtp,
    smtp_server,
    webhook_receiver,
)
from tests.helpdesk.requests.helpers import deliver, log_in


@pytest.fixture
def app_config(app_config: dict[str, Any], smtp_server: SmtpServer) -> dict[str, Any]:
    return {**app_config, "SMTP_URL": smtp_server.url, "PUBLIC_URL": "http://help.test",
            "MAIL_FROM": "Practice Helpdesk <support@help.test>", "REQUESTS_CLOSE_AFTER_DAYS": 4}


@pytest.fixture
def world(ingest: Callable[..., Any]) -> None:
    """Two practices: P1 (bookings BK-1..3) and P2 (bookings OT-1..3)."""
    ingest(*practice_world("P1", "Riverside Dental", "BK"))
    ingest(*practice_world("P2", "Hilltop Physio", "OT"))


@pytest.fixture
def agent_client(app: Flask, client: FlaskClient, agent: NewAgent) -> FlaskClient:
    """A second test client, signed in to the console as ``agent`` (the requester keeps ``client``)."""
    console = app.test_client()
    log_in(console, agent.agent.email, agent.password)
    return console


@pytest.fixture
def other_agent(db_session: Any) -> NewAgent:
    created = create_agent(db_session, "bo@helpdesk.test", "Bo Agent")
    db_session.commit()
    return created


@pytest.fixture
def send(app: Flask, smtp: SmtpServer) -> Callable[[], PassReport]:
    """Deliver the outbox now (one pass) to the real SMTP server."""
    return lambda: deliver(app)
