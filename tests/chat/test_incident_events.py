"""Agents connected to ``/chat`` get an ``incident`` event when the helpdesk opens or resolves one
(Flask-SocketIO's own in-process client, on the real namespace and handlers)."""

from __future__ import annotations

from helpdesk.core.extensions import socketio
from tests.helpdesk import factories as f
from tests.helpdesk.conftest import agent, ingest  # noqa: F401 (fixtures)


def test_agents_hear_of_an_incident_opening_and_resolving(app, db_session, ingest, agent):
    token = agent.token
    client = socketio.test_client(app, namespace="/chat", auth={"token": token})
    try:
        assert client.is_connected("/chat")
        client.get_received("/chat")
        ingest(f.practice_upserted("SIO1"))
        ingest(*(f.diary_failed("collision", f"BK-{n}", "SIO1", occurred_at=f.iso(f.utcnow())) for n in range(3)))
        events = [e for e in client.get_received("/chat") if e["name"] == "incident"]
        assert [(e["args"][0]["kind"], e["args"][0]["state"]) for e in events] == [("failed_inserts", "open")]
        assert [p["id"] for p in events[0]["args"][0]["practices"]] == ["SIO1"]
        # The diagnostics beside a chat of that practice name the incident and list today's bookings at risk.
        from datetime import timedelta

        from chat.queries import diagnostics_snapshot

        snapshot = diagnostics_snapshot(db_session, "SIO1", f.utcnow(), 30, timedelta(minutes=15))
        assert snapshot["incident"]["id"] == events[0]["args"][0]["id"]
        assert snapshot["at_risk"]["practice_id"] == "SIO1"
        ingest(f.diary_inserted("BK-OK", "SIO1", occurred_at=f.iso(f.utcnow())))
        events = [e for e in client.get_received("/chat") if e["name"] == "incident"]
        assert [e["args"][0]["state"] for e in events] == ["resolved"]
    finally:
        client.disconnect("/chat")
