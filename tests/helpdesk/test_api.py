"""The diagnostics API for agents and for practice users: contract, filters, pagination, tenancy, audit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.core.agents import NewAgent
from helpdesk.core.audit import AuditEntry
from tests.helpdesk.factories import (
    alert_sent,
    at,
    booking_created,
    booking_event,
    connector_event,
    day,
    practice_upserted,
)

BASE = "/api/v1/practices/P1"


@pytest.fixture
def world(ingest: Any) -> None:
    ingest(
        practice_upserted("P1", occurred_at=at(-10_000)),
        practice_upserted("P2", name="Hillside Clinic", booking_emails=[], occurred_at=at(-10_000)),
        booking_created("BK-1", first_name="Jane", last_name="Smith", occurred_at=at(0), appointment_at=at(3000)),
        booking_event("email.delivered", "BK-1", occurred_at=at(1)),
        booking_event("diary.failed", "BK-1", reason="collision", detail="slot taken", occurred_at=at(2)),
        booking_created("BK-2", first_name="Omar", last_name="Haddad", occurred_at=at(10), appointment_at=at(4000)),
        booking_event("email.bounced", "BK-2", recipient="front@riverside.test", occurred_at=at(11)),
        booking_event("diary.inserted", "BK-2", occurred_at=at(12)),
        connector_event("connection_lost", occurred_at=at(20)),
        booking_created("BK-3", first_name="Jan", last_name="Smithson", occurred_at=at(30), appointment_at=at(5000)),
        booking_event("email.delivered", "BK-3", occurred_at=at(31)),
        booking_event("diary.failed", "BK-3", reason="connection_lost", occurred_at=at(32)),
        alert_sent("connection_lost", occurred_at=at(25)),
        booking_created("SECRET-9", "P2", first_name="Zed", last_name="Other", occurred_at=at(0)),
    )


def get(client: FlaskClient, url: str, headers: dict[str, str], status: int = 200) -> Any:
    response = client.get(url, headers=headers)
    assert response.status_code == status, response.get_json()
    return response.get_json()


# --- authentication --------------------------------------------------------------------------

@pytest.mark.parametrize("header", [None, "Bearer", "Bearer hdt_forged", "Basic abc", "Bearer not-a-token"])
def test_agent_endpoints_need_a_valid_token(client: FlaskClient, world: None, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    body = get(client, f"{BASE}/bookings/BK-1/diagnosis", headers, 401)
    assert body["error"]["code"] in {"unauthenticated", "invalid_token"}


def test_a_widget_token_is_not_an_agent_token(client: FlaskClient, world: None, widget_headers: Callable[..., Any]) -> None:
    get(client, f"{BASE}/bookings/BK-1/diagnosis", widget_headers(), 401)


def test_revoked_agent_token_stops_working(client: FlaskClient, world: None, agent: NewAgent,
                                           agent_headers: dict[str, str], db_session: Session) -> None:
    agent.agent.is_active = False
    db_session.commit()
    get(client, f"{BASE}/health", agent_headers, 401)


# --- diagnosis -------------------------------------------------------------------------------

def test_diagnosis_contract(client: FlaskClient, world: None, agent_headers: dict[str, str]) -> None:
    body = get(client, f"{BASE}/bookings/BK-1/diagnosis", agent_headers)
    assert body["reference"] == "BK-1"
    assert body["received_ways"] == 2
    assert set(body["channels"]) == {"bookings_list", "email", "diary"}
    assert body["channels"]["diary"]["status"] == "collision"
    assert body["causes"] == ["diary_collision", "alert_not_sent"]
    assert body["practice_alerted"] == []
    assert body["actions"] and all({"code", "text"} <= set(a) for a in body["actions"])
    assert [a["key"] for a in body["articles"]] == body["causes"]
    assert body["patient"] == {"name": "J. Sm…", "masked": True}
    assert body["timezone"] == "Europe/London"


def test_connection_lost_booking_names_the_alert(client: FlaskClient, world: None, agent_headers: dict[str, str]) -> None:
    body = get(client, f"{BASE}/bookings/BK-3/diagnosis", agent_headers)
    assert body["causes"] == ["diary_connection_lost"]
    assert body["practice_alerted"][0]["recipient"] == "manager@riverside.test"
    assert body["channels"]["diary"]["connector_offline_since"].startswith(f"{day(0)}T09:20")


def test_unknown_booking_or_practice_is_404(client: FlaskClient, world: None, agent_headers: dict[str, str]) -> None:
    assert get(client, f"{BASE}/bookings/NOPE/diagnosis", agent_headers, 404)["error"]["code"] == "not_found"
    get(client, "/api/v1/practices/P404/bookings/BK-1/diagnosis", agent_headers, 404)


def test_views_and_reveals_are_audited(client: FlaskClient, world: None, agent: NewAgent,
                                       agent_headers: dict[str, str], db_session: Session) -> None:
    get(client, f"{BASE}/bookings/BK-1/diagnosis", agent_headers)
    revealed = get(client, f"{BASE}/bookings/BK-1/diagnosis?reveal=1", agent_headers)
    assert revealed["patient"]["name"] == "Jane Smith"
    entries = db_session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.action, e.practice_id, e.target, e.agent_id) for e in entries] == [
        ("view_diagnosis", "P1", "BK-1", agent.agent.id),
        ("reveal_patient", "P1", "BK-1", agent.agent.id),
    ]


# --- bookings list ---------------------------------------------------------------------------

def references(body: dict[str, Any]) -> list[str]:
    return [b["reference"] for b in body["bookings"]]


def test_bookings_newest_appointment_first_with_channel_statuses(client: FlaskClient, world: None,
                                                                 agent_headers: dict[str, str]) -> None:
    body = get(client, f"{BASE}/bookings", agent_headers)
    assert references(body) == ["BK-3", "BK-2", "BK-1"]
    assert body["bookings"][1]["channels"] == {"bookings_list": "delivered", "email": "bounced", "diary": "inserted"}
    assert body["bookings"][1]["patient"]["masked"] is True
    assert body["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=smith", ["BK-3", "BK-1"]),
        ("q=SMITHS", ["BK-3"]),
        ("q=jane+smith", ["BK-1"]),
        ("q=smith+jan", ["BK-3", "BK-1"]),
        ("q=bk-2", ["BK-2"]),
        ("q=%C3%B6mar", ["BK-2"]),
        ("q=omar", ["BK-2"]),
        ("diary_status=collision", ["BK-1"]),
        ("diary_status=collision,connection_lost", ["BK-3", "BK-1"]),
        ("email_status=bounced", ["BK-2"]),
        ("missed=1", ["BK-3", "BK-2", "BK-1"]),
        (f"from={day(2)}&to={day(2)}", ["BK-1"]),
        (f"from={day(3)}T00:00:00Z", ["BK-3", "BK-2"]),
        ("q=%22%27%3B--+*+OR+1%3D1", []),
    ],
)
def test_bookings_filters(client: FlaskClient, world: None, agent_headers: dict[str, str], query: str,
                          expected: list[str]) -> None:
    assert references(get(client, f"{BASE}/bookings?{query}", agent_headers)) == expected


@pytest.mark.parametrize(
    "query", ["diary_status=exploded", "from=yesterday", "limit=0", "limit=abc", "cursor=garbage", f"from={day(3)}T00:00"]
)
def test_bad_bookings_parameters_are_400(client: FlaskClient, world: None, agent_headers: dict[str, str], query: str) -> None:
    body = get(client, f"{BASE}/bookings?{query}", agent_headers, 400)
    assert body["error"]["code"] in {"invalid_parameter", "bad_cursor"}


def test_cursor_pagination_walks_every_booking_once(client: FlaskClient, ingest: Any, agent_headers: dict[str, str]) -> None:
    same_time = at(9000)
    ingest(practice_upserted(), *[booking_created(f"BK-{i:02}", appointment_at=same_time if i % 3 else at(i))
                                  for i in range(25)])
    seen: list[str] = []
    url = f"{BASE}/bookings?limit=4"
    while url:
        body = get(client, url, agent_headers)
        seen += references(body)
        url = f"{BASE}/bookings?limit=4&cursor={body['next_cursor']}" if body["next_cursor"] else ""
    assert sorted(seen) == sorted(f"BK-{i:02}" for i in range(25))
    assert len(seen) == len(set(seen))


# --- timeline and health ---------------------------------------------------------------------

def test_integration_events_by_kind(client: FlaskClient, world: None, agent_headers: dict[str, str]) -> None:
    body = get(client, f"{BASE}/integration-events", agent_headers)
    assert [(e["kind"], e["reason"]) for e in body["events"]] == [
        ("diary_failed", "connection_lost"), ("connection_lost", None), ("diary_failed", "collision")]
    failed = get(client, f"{BASE}/integration-events?kind=diary_failed", agent_headers)
    assert {e["reference"] for e in failed["events"]} == {"BK-1", "BK-3"}
    get(client, f"{BASE}/integration-events?kind=party", agent_headers, 400)


def test_health_summary(client: FlaskClient, world: None, agent_headers: dict[str, str], app: Flask) -> None:
    body = get(client, f"{BASE}/health?window_days=365", agent_headers)
    assert body["connector"]["status"] == "offline"
    assert body["connector"]["since"].startswith(f"{day(0)}T09:20")
    assert body["collisions"] == 1
    assert body["connection_losses"] == 1
    assert body["failed_inserts"] == 2
    assert body["diary_inserts"]["success_rate"] == pytest.approx(1 / 3, abs=1e-3)
    codes = [p["code"] for p in body["notification_problems"]]
    assert codes == ["bouncing_address"]
    other = get(client, "/api/v1/practices/P2/health", agent_headers)
    assert "no_booking_email" in [p["code"] for p in other["notification_problems"]]


def test_practice_search(client: FlaskClient, world: None, agent_headers: dict[str, str]) -> None:
    assert [p["id"] for p in get(client, "/api/v1/practices?q=hill", agent_headers)["practices"]] == ["P2"]
    assert get(client, "/api/v1/practices/P2", agent_headers)["name"] == "Hillside Clinic"


# --- practice users: their own practice, nothing else ----------------------------------------

def test_practice_user_reads_its_own_bookings_unmasked(client: FlaskClient, world: None,
                                                       widget_headers: Callable[..., Any]) -> None:
    body = get(client, "/api/v1/me/bookings?q=smith", widget_headers("P1"))
    assert references(body) == ["BK-3", "BK-1"]
    assert body["bookings"][1]["patient"]["name"] == "Jane Smith"
    assert get(client, "/api/v1/me/bookings/BK-1/diagnosis", widget_headers("P1"))["received_ways"] == 2
    assert get(client, "/api/v1/me/health", widget_headers("P1"))["connector"]["status"] == "offline"
    assert len(get(client, "/api/v1/me/integration-events", widget_headers("P1"))["events"]) == 3


def test_practice_user_never_reads_another_practice(client: FlaskClient, world: None,
                                                    widget_headers: Callable[..., Any]) -> None:
    p1 = widget_headers("P1")
    get(client, "/api/v1/me/bookings/SECRET-9/diagnosis", p1, 404)
    assert "SECRET-9" not in references(get(client, "/api/v1/me/bookings?q=secret", p1))
    assert "SECRET-9" not in references(get(client, "/api/v1/me/bookings?limit=200", p1))
    get(client, "/api/v1/practices/P2/bookings/SECRET-9/diagnosis", p1, 401)
    get(client, "/api/v1/practices/P2/bookings", p1, 401)


def test_widget_token_errors(client: FlaskClient, world: None, widget_headers: Callable[..., Any], app: Flask) -> None:
    expired = widget_headers("P1", ttl=timedelta(seconds=-5))
    assert get(client, "/api/v1/me/bookings", expired, 401)["error"]["code"] == "token_expired"
    forged = {"Authorization": "Bearer " + widget_headers("P2")["Authorization"].split()[1][:-4] + "AAAA"}
    assert get(client, "/api/v1/me/bookings", forged, 401)["error"]["code"] == "invalid_token"
    app.config["WIDGET_SECRET"] = "rotated-widget-secret-of-a-good-length-0123456789"
    get(client, "/api/v1/me/bookings", widget_headers("P1"), 200)  # minted with the new secret
    get(client, "/api/v1/me/bookings", {"Authorization": "Bearer x.y.z"}, 401)


def test_unknown_practice_in_a_valid_token_is_404(client: FlaskClient, world: None,
                                                  widget_headers: Callable[..., Any]) -> None:
    get(client, "/api/v1/me/bookings", widget_headers("P-unknown"), 404)


def test_openapi_is_served_and_valid(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    validate(spec)  # raises on anything that is not valid OpenAPI 3.1
    for path in ("/ingest/events", "/practices/{practice_id}/bookings/{reference}/diagnosis",
                 "/practices/{practice_id}/bookings", "/me/bookings", "/me/health"):
        assert path in spec["paths"]


def test_nul_characters_never_reach_the_database(client: FlaskClient, world: None,
                                                widget_headers: Callable[..., Any]) -> None:
    assert references(get(client, "/api/v1/me/bookings?q=BK-1%00", widget_headers("P1"))) == ["BK-1"]
    get(client, "/api/v1/me/bookings/BK-1%00/diagnosis", widget_headers("P1"), 404)
