"""Reads of a practice's integration events and health are audited, like its bookings."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.core.agents import NewAgent
from helpdesk.core.audit import AuditEntry
from tests.helpdesk.factories import practice_upserted


def test_integration_events_and_health_reads_are_audited(client: FlaskClient, agent: NewAgent,
                                                         agent_headers: dict[str, str], db_session: Session,
                                                         signed: Callable[..., Any]) -> None:
    agent_id = agent.agent.id
    assert signed(json.dumps([practice_upserted("P1")])).status_code == 200
    for path in ("/api/v1/practices/P1/integration-events", "/api/v1/practices/P1/health"):
        assert client.get(path, headers=agent_headers).status_code == 200
    rows = db_session.execute(select(AuditEntry.action, AuditEntry.practice_id).where(
        AuditEntry.agent_id == agent_id)).all()
    assert ("view_integration_events", "P1") in rows and ("view_health", "P1") in rows
