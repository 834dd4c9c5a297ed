"""Open incidents in the navigation: the bookings package adds the count to the workspace's."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.bookings import incidents
from helpdesk.bookings.models import Incident
from helpdesk.core.agents import NewAgent
from helpdesk.core.clock import frozen_at, utcnow
from tests.helpdesk import factories as f
from tests.helpdesk.bookings.helpers import now_iso, practice
from tests.helpdesk.bookings.test_incident_actions import MON_1000_BRISBANE
from tests.helpdesk.test_console import log_in


def open_burst(ingest: Callable[..., Any], pid: str) -> None:
    """Three failed inserts within the hour, in opening time: an incident opens."""
    ingest(practice(pid))
    ingest(*(f.diary_failed("collision", f"{pid}-{n}", pid, occurred_at=now_iso()) for n in range(3)))


def nav_count(page: str, name: str) -> tuple[str, bool]:
    found = re.search(rf'data-count="{name}"[^>]*?( hidden)?><span class="visually-hidden">, </span>'
                      r"<span data-count-value>(\d+)</span>", page)
    assert found is not None, f"no {name} count in the navigation"
    return found.group(2), found.group(1) is None


def test_open_incidents_are_counted_for_the_navigation(client: FlaskClient, agent: NewAgent, agent_headers: dict[str, str],
                                                       ingest: Callable[..., Any], db_session: Session) -> None:
    with frozen_at(MON_1000_BRISBANE):
        assert log_in(client, agent.agent.email, agent.password).status_code == 303
        assert client.get("/api/v1/workspace/counts", headers=agent_headers).get_json()["open_incidents"] == 0
        assert nav_count(client.get("/console/incidents").text, "open_incidents") == ("0", False)  # hidden at 0
        open_burst(ingest, "IC1")
        open_burst(ingest, "IC2")
        assert client.get("/api/v1/workspace/counts", headers=agent_headers).get_json()["open_incidents"] == 2
        assert nav_count(client.get("/console/practices").text, "open_incidents") == ("2", True)
        first = db_session.scalars(select(Incident).order_by(Incident.id)).first()
        assert first is not None
        incidents.resolve(db_session, first, utcnow(), "Inserts work again.")
        db_session.commit()
        assert client.get("/api/v1/workspace/counts").get_json()["open_incidents"] == 1
