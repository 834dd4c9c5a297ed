"""An agent's update reaches every open chat and request of the affected practices; the console
pages; the CLI commands for cron."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from chat.models import Conversation, Message
from helpdesk.bookings.models import Incident
from helpdesk.core.agents import create_agent
from helpdesk.core.clock import advance, frozen_at, utcnow
from helpdesk.requests.models import Request, RequestComment
from tests.helpdesk import factories as f
from tests.helpdesk.bookings.helpers import connector, now_iso, practice
from tests.helpdesk.test_console import log_in

MON_1000_BRISBANE = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)


def _burst(ingest, pid):
    ingest(practice(pid))
    ingest(*(f.diary_failed("collision", f"BK-{n}", pid, occurred_at=now_iso()) for n in range(3)))


def test_an_update_goes_into_every_open_chat_and_request_of_the_affected_practices(
        db_session, ingest, client, agent_headers, agent):
    agent_id = agent.agent.id
    with frozen_at(MON_1000_BRISBANE):
        _burst(ingest, "UP1")
        ingest(practice("UP2"))
        chats = [Conversation(practice_id=pid, requester_id="u", status=status)
                 for pid, status in (("UP1", "waiting"), ("UP1", "active"), ("UP1", "closed"), ("UP2", "active"))]
        reqs = [Request(subject="Diary?", practice_id=pid, requester_email="pat@p.test", status=status)
                for pid, status in (("UP1", "open"), ("UP1", "solved"), ("UP2", "new"))]
        db_session.add_all([*chats, *reqs])
        db_session.commit()
        [incident] = db_session.scalars(select(Incident)).all()
        url = f"/api/v1/incidents/{incident.id}/updates"
        assert client.post(url, json={"body": "  "}, headers=agent_headers).status_code == 422
        assert client.post(url, json=["x"], headers=agent_headers).status_code == 400  # not a JSON object
        assert client.post("/api/v1/incidents/9999/updates", json={"body": "x"}, headers=agent_headers).status_code == 404
        response = client.post(url, json={"body": "The vendor is fixing it; enter today's bookings by hand."},
                               headers=agent_headers)
        assert response.status_code == 201, response.get_json()
        assert response.get_json() == {"incident_id": incident.id, "chats": 2, "requests": 1}
        posted = {m.conversation_id for m in db_session.scalars(select(Message).where(Message.body.contains("vendor")))}
        assert posted == {chats[0].id, chats[1].id}
        commented = {c.request_id for c in db_session.scalars(select(RequestComment).where(RequestComment.body.contains("vendor")))}
        assert commented == {reqs[0].id}
        detail = client.get(f"/api/v1/incidents/{incident.id}", headers=agent_headers).get_json()
        assert detail["timeline"][-1]["kind"] == "update" and detail["timeline"][-1]["agent_id"] == agent_id


def test_the_console_lists_incidents_and_the_practice_page_shows_at_risk_first(db_session, ingest, client):
    create_agent(db_session, "con@helpdesk.test", "Con Sole", password="correct horse battery staple")
    db_session.commit()
    assert log_in(client, "con@helpdesk.test", "correct horse battery staple").status_code == 303
    now = utcnow()
    ingest(practice("CON1", tz="UTC"),
           f.booking_created("BK-TODAY", "CON1", appointment_at=f.iso(now.replace(hour=23, minute=0)), occurred_at=f.iso(now)))
    ingest(*(f.diary_failed("rejected", f"BK-{n}", "CON1", occurred_at=f.iso(now)) for n in range(3)))
    [incident] = db_session.scalars(select(Incident)).all()
    listing = client.get("/console/incidents?state=open")
    assert listing.status_code == 200 and incident.title in listing.text
    page = client.get(f"/console/incidents/{incident.id}")
    assert page.status_code == 200 and "Timeline" in page.text
    assert client.get("/console/incidents/9999").status_code == 404
    practice_page = client.get("/console/practices/CON1").text
    assert practice_page.index('id="at-risk"') < practice_page.index("Connector")
    assert "BK-TODAY" in practice_page and "incident-banner" in practice_page


def test_cli_sweep_and_digest_for_cron(app, db_session, ingest, cli_runner):
    with frozen_at(MON_1000_BRISBANE):
        ingest(practice("CLI1"), connector("heartbeat", "CLI1"))
        advance(timedelta(hours=1))
        result = cli_runner.invoke(args=["incidents", "sweep"])
        assert result.exit_code == 0, result.output
        assert "1 opened" in result.output
        result = cli_runner.invoke(args=["incidents", "sweep", "--at", "2026-11-16T10:00:00"])
        assert result.exit_code != 0 and "offset" in result.output
        result = cli_runner.invoke(args=["digest", "run", "--at", "2026-11-16T07:05:00+10:00"])
        assert result.exit_code == 0, result.output
        assert "1 due" in result.output and "1 with nothing at risk" in result.output
