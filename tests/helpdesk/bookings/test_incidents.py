"""Incidents with a clock moving through days: connectors, failed inserts, one platform incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from helpdesk.bookings import incidents
from helpdesk.bookings.models import Incident
from helpdesk.core.clock import advance, frozen_at, utcnow
from tests.helpdesk import factories as f
from tests.helpdesk.bookings.helpers import booking, connector, now_iso, practice

# Wednesday 18 November 2026, 09:00 in Brisbane (UTC+10, no daylight saving).
WED_0900_BRISBANE = datetime(2026, 11, 17, 23, 0, tzinfo=UTC)


def _open(db_session, kind=None):
    query = select(Incident).where(Incident.state == "open")
    if kind:
        query = query.where(Incident.kind == kind)
    return list(db_session.scalars(query))


def _sweep(db_session, app):
    report = incidents.sweep(db_session, utcnow(), app.config)
    db_session.commit()
    return report


def test_an_outage_in_opening_hours_opens_one_incident_and_recovery_lists_the_backlog(
        app, db_session, ingest, client, agent_headers):
    with frozen_at(WED_0900_BRISBANE):
        ingest(practice("P1"), connector("heartbeat", "P1"))
        advance(timedelta(minutes=10))
        ingest(connector("connection_lost", "P1"))
        assert _sweep(db_session, app)["opened"] == 0
        # Two bookings arrive while the connector is down; one will be inserted later.
        tomorrow = f.iso(utcnow() + timedelta(days=1))
        ingest(booking("BK-OUT-1", "P1", tomorrow), booking("BK-OUT-2", "P1", tomorrow))
        advance(timedelta(minutes=10))
        assert _sweep(db_session, app)["opened"] == 0  # 10 minutes offline: under the threshold
        advance(timedelta(minutes=10))
        assert _sweep(db_session, app)["opened"] == 1
        assert _sweep(db_session, app)["opened"] == 0  # still one
        [incident] = _open(db_session)
        assert incident.kind == "connector_offline"
        assert incident.started_at == WED_0900_BRISBANE + timedelta(minutes=10)

        listed = client.get("/api/v1/incidents?state=open", headers=agent_headers).get_json()["incidents"]
        assert [i["id"] for i in listed] == [incident.id]

        advance(timedelta(minutes=30))
        ingest(connector("connection_restored", "P1"), connector("heartbeat", "P1"),
               f.diary_inserted("BK-OUT-2", "P1", occurred_at=now_iso()))
        assert _open(db_session) == []
        detail = client.get(f"/api/v1/incidents/{incident.id}", headers=agent_headers).get_json()
        assert detail["state"] == "resolved"
        assert detail["resolved_at"] == (WED_0900_BRISBANE + timedelta(minutes=60)).isoformat()
        assert [b["reference"] for b in detail["backlog"]] == ["BK-OUT-1"]
        assert [e["kind"] for e in detail["timeline"]] == ["opened", "resolved"]
        assert "1 booking(s)" in detail["timeline"][-1]["text"]
        assert [p["id"] for p in detail["practices"]] == ["P1"]
        assert client.get("/api/v1/incidents?state=open", headers=agent_headers).get_json()["incidents"] == []
        assert client.get("/api/v1/incidents?state=bogus", headers=agent_headers).status_code == 422


def test_a_quiet_connector_at_night_opens_nothing_but_silence_after_opening_does(app, db_session, ingest):
    # Wednesday 16:55 Brisbane: the last heartbeat of the day.
    with frozen_at(WED_0900_BRISBANE + timedelta(hours=7, minutes=55)):
        ingest(practice("P2"), connector("heartbeat", "P2"))
        for _ in range(30):  # 16:55 -> 07:55 Thursday
            advance(timedelta(minutes=30))
            assert _sweep(db_session, app)["opened"] == 0
        advance(timedelta(minutes=10))  # 08:05: 15 minutes of opening time silent, not more
        assert _sweep(db_session, app)["opened"] == 0
        advance(timedelta(minutes=10))  # 08:15: 5 + 15 = 20 minutes
        assert _sweep(db_session, app)["opened"] == 1
        [incident] = _open(db_session)
        assert incident.kind == "connector_silent"
        advance(timedelta(minutes=5))
        ingest(connector("heartbeat", "P2"))
        assert _open(db_session) == []


def test_a_closed_day_or_a_holiday_is_not_an_incident(app, db_session, ingest):
    with frozen_at(WED_0900_BRISBANE):
        ingest(practice("P3", holidays_region="AU-QLD"), connector("heartbeat", "P3"),
               f.event("practice.closed", "P3", {"date": "2026-11-18", "reason": "Staff training"}, occurred_at=now_iso()))
        advance(timedelta(hours=3))
        assert _sweep(db_session, app)["opened"] == 0
    # Christmas Day 2026 (a Friday) is a Queensland public holiday.
    with frozen_at(datetime(2026, 12, 24, 23, 0, tzinfo=UTC)):
        ingest(connector("heartbeat", "P3"))
        advance(timedelta(hours=4))
        assert _sweep(db_session, app)["opened"] == 0
        advance(timedelta(days=3))  # Monday 28 December is the Boxing Day substitute holiday too
        assert _sweep(db_session, app)["opened"] == 0
        advance(timedelta(days=1))  # Tuesday 29th: a working day, silent since Christmas Eve
        assert _sweep(db_session, app)["opened"] == 1


def test_a_burst_of_failed_inserts_opens_an_incident_that_an_insert_resolves(app, db_session, ingest):
    with frozen_at(WED_0900_BRISBANE):
        ingest(practice("P4"))
        for n in range(3):
            advance(timedelta(minutes=5))
            ingest(f.diary_failed("collision", f"BK-F{n}", "P4", occurred_at=now_iso()))
            assert len(_open(db_session, "failed_inserts")) == (1 if n == 2 else 0)
        advance(timedelta(minutes=5))
        ingest(f.diary_failed("rejected", "BK-F3", "P4", occurred_at=now_iso()))
        assert len(_open(db_session)) == 1
        advance(timedelta(minutes=5))
        ingest(f.diary_inserted("BK-OK", "P4", occurred_at=now_iso()))
        assert _open(db_session) == []


def test_failures_across_many_practices_on_one_pms_open_one_platform_incident(app, db_session, ingest, client,
                                                                               agent_headers):
    ids = [f"PL{n}" for n in range(8)]
    with frozen_at(WED_0900_BRISBANE):
        ingest(*(practice(pid, software="OrthoSoft") for pid in ids), practice("OTHER", software="Dentrix"))
        # The first practice has a burst of its own before the others fail.
        for n in range(3):
            ingest(f.diary_failed("connection_lost", f"BK-{n}", "PL0", occurred_at=now_iso()))
        assert [i.kind for i in _open(db_session)] == ["failed_inserts"]
        for pid in ids[1:]:
            advance(timedelta(minutes=2))
            ingest(f.diary_failed("rejected", "BK-X", pid, occurred_at=now_iso()),
                   f.diary_failed("rejected", "BK-Y", pid, occurred_at=now_iso()),
                   f.diary_failed("rejected", "BK-Z", pid, occurred_at=now_iso()))
        ingest(f.diary_failed("rejected", "BK-X", "OTHER", occurred_at=now_iso()))
        [platform] = _open(db_session)
        assert platform.kind == "platform" and platform.pms_software == "OrthoSoft"
        detail = client.get(f"/api/v1/incidents/{platform.id}", headers=agent_headers).get_json()
        assert sorted(p["id"] for p in detail["practices"]) == ids
        merged = client.get("/api/v1/incidents?state=resolved", headers=agent_headers).get_json()["incidents"]
        # PL0..PL3 each had a burst (3 failures) before the fifth practice made it a platform outage.
        assert sorted(m["practices"][0]["id"] for m in merged) == ids[:4]
        assert {m["merged_into"] for m in merged} == {platform.id}
        for pid in ids:
            advance(timedelta(minutes=1))
            ingest(f.diary_inserted("BK-NEW", pid, occurred_at=now_iso()))
            assert bool(_open(db_session)) == (pid != ids[-1])
        detail = client.get(f"/api/v1/incidents/{platform.id}", headers=agent_headers).get_json()
        assert detail["state"] == "resolved"
        assert all(p["recovered_at"] for p in detail["practices"])
