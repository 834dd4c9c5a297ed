"""Reports on a small dataset, with the exact figures expected, as JSON and CSV."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from chat.models import Conversation
from helpdesk.core.clock import utcnow
from helpdesk.requests.models import Request
from tests.factories import make_booking, make_practice
from tests.helpdesk.console_world import practice_world
from tests.helpdesk.workspace.plans import sqlite_plans

D0: date = (utcnow() - timedelta(days=20)).date()


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(D0.year, D0.month, D0.day, hour, minute, tzinfo=UTC) + timedelta(days=day)


def chat(n: int, created: datetime, accepted: float | None, closed: float | None, rating: int | None = None,
         comment: str = "") -> Conversation:
    """A chat as the verbs leave it (accepted and ended ``accepted`` and ``closed`` minutes in)."""
    return Conversation(
        practice_id="P1", requester_id=f"u-{n}", status="closed" if closed is not None else "active",
        created_at=created, accepted_at=created + timedelta(minutes=accepted) if accepted is not None else None,
        closed_at=created + timedelta(minutes=closed) if closed is not None else None, rating=rating,
        rating_comment=comment or None, rated_at=created + timedelta(minutes=(closed or 0) + 1) if rating else None,
        first_response_seconds=seconds(accepted),
        resolution_seconds=seconds(closed) if accepted is not None else None,
    )


def seconds(minutes: float | None) -> int | None:
    return None if minutes is None else round(minutes * 60)


@pytest.fixture
def support_data(db_session: Session) -> None:
    db_session.add_all([
        chat(1, at(0, 9), 2, 20, 5, "Great help"),
        chat(2, at(0, 14), 10, 40, 2),
        chat(3, at(1, 10), 4, 10, 4, "quick"),
        chat(4, at(1, 23, 30), None, 15),  # never accepted
        chat(5, at(5, 9), 1, 5, 1, "outside the period"),
        Request(subject="a", requester_email="a@p.test", priority="normal", created_at=at(0, 8),
                first_replied_at=at(0, 9), solved_at=at(0, 12), first_reply_seconds=seconds(60),
                resolution_seconds=seconds(240)),
        Request(subject="b", requester_email="b@p.test", priority="urgent", created_at=at(1, 8),
                first_replied_at=at(1, 10), first_reply_seconds=seconds(120)),
        Request(subject="c", requester_email="c@p.test", priority="high", created_at=at(2, 8)),
    ])
    db_session.commit()


def report(client: FlaskClient, headers: dict[str, str], name: str, expect: int = 200, **args: str) -> Any:
    response = client.get(f"/api/v1/reports/{name}", query_string=args, headers=headers)
    assert response.status_code == expect, response.get_data(as_text=True)
    return response.get_json() if response.is_json else response.get_data(as_text=True)


def period(days: int = 3) -> dict[str, str]:
    return {"from": D0.isoformat(), "to": (D0 + timedelta(days=days - 1)).isoformat(), "tz": "UTC"}


def test_volume_by_day_and_hour_of_week(client: FlaskClient, agent_headers: dict[str, str], support_data: None) -> None:
    body = report(client, agent_headers, "volume", **period())
    assert body["summary"] == {"chats": 4, "requests": 3}
    days = [(D0 + timedelta(days=n)).isoformat() for n in range(3)]
    assert body["tables"]["by_day"]["rows"] == [[days[0], 2, 1], [days[1], 2, 1], [days[2], 0, 1]]
    heat = {row[0]: row[1:] for row in body["tables"]["chats_by_hour"]["rows"]}
    weekday = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[D0.weekday()]
    assert heat[weekday][9] == 1 and heat[weekday][14] == 1 and sum(map(sum, heat.values())) == 4


def test_volume_in_the_readers_zone(client: FlaskClient, agent_headers: dict[str, str], support_data: None) -> None:
    body = report(client, agent_headers, "volume", **{**period(), "tz": "Australia/Brisbane"})  # UTC+10, no DST
    assert [row[1] for row in body["tables"]["by_day"]["rows"]] == [1, 2, 1]
    assert body["tz"] == "Australia/Brisbane"


def test_response_times_and_sla(client: FlaskClient, agent_headers: dict[str, str], support_data: None) -> None:
    body = report(client, agent_headers, "response", **period())
    times = {row[0]: row[1:] for row in body["tables"]["times"]["rows"]}
    assert times == {
        "chat first response": [3, 4.0, 10.0], "chat resolution": [3, 20.0, 40.0],
        "request first reply": [2, 60.0, 120.0], "request resolution": [1, 240.0, 240.0],
    }
    sla = {row[0]: row[2:] for row in body["tables"]["sla"]["rows"]}
    assert sla == {"urgent": [1, 1], "high": [1, 1], "normal": [1, 0], "low": [0, 0]}
    assert body["summary"]["sla_breaches"] == 2 and body["summary"]["chats_never_accepted"] == 1


def test_csat_with_comments(client: FlaskClient, agent_headers: dict[str, str], support_data: None) -> None:
    body = report(client, agent_headers, "csat", **period())
    assert body["summary"] == {"ratings": 3, "average": 3.67, "csat_percent": 66.7}
    assert body["tables"]["ratings"]["rows"] == [[1, 0], [2, 1], [3, 0], [4, 1], [5, 1]]
    assert [row[4] for row in body["tables"]["comments"]["rows"]] == ["quick", "Great help"]


def test_csv_by_format_or_accept(client: FlaskClient, agent_headers: dict[str, str], support_data: None) -> None:
    days = [(D0 + timedelta(days=n)).isoformat() for n in range(3)]
    expected = f"day,chats,requests\r\n{days[0]},2,1\r\n{days[1]},2,1\r\n{days[2]},0,1\r\n"
    assert report(client, agent_headers, "volume", **period(), format="csv") == expected
    response = client.get("/api/v1/reports/volume", query_string=period(), headers={**agent_headers, "Accept": "text/csv"})
    assert response.mimetype == "text/csv" and response.get_data(as_text=True) == expected
    ratings = report(client, agent_headers, "csat", **period(), format="csv", table="ratings")
    assert ratings.splitlines() == ["rating,chats", "1,0", "2,1", "3,0", "4,1", "5,1"]


def test_what_only_this_helpdesk_knows(client: FlaskClient, agent_headers: dict[str, str],
                                       ingest: Callable[..., Any]) -> None:
    ingest(*practice_world("P1", "Riverside Dental", "BK"))
    today = utcnow().date()
    window = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat(), "tz": "UTC"}
    diary = report(client, agent_headers, "diary", **window)
    assert diary["summary"] == {"inserted": 1, "failed": 2, "success_percent": 33.3}
    diagnosis = report(client, agent_headers, "diagnosis", **window)
    assert diagnosis["summary"] == {"failures": 2, "collision": 1, "connection_lost": 1, "patient_match": 0, "rejected": 0}
    assert diagnosis["tables"]["by_practice"]["rows"] == [["P1", "Riverside Dental", 1, 1, 0, 0, 2]]
    assert {row[1] for row in diagnosis["tables"]["by_week"]["rows"]} == {"DentaDesk"}
    outages = report(client, agent_headers, "outages", **window)
    assert outages["tables"]["by_practice"]["rows"] == [["P1", "Riverside Dental", 1, 60.0]]
    alerts = report(client, agent_headers, "alerts", **window)
    assert alerts["summary"]["not_sent"] == 1  # the collision nobody was told of; the outage was alerted
    assert [row[:3] for row in alerts["tables"]["not_sent"]["rows"]] == [["collision", "P1", "BK-1"]]


def test_diary_success_by_the_readers_days(client: FlaskClient, agent_headers: dict[str, str],
                                           db_session: Session) -> None:
    """Bookings on either side of local midnight count on their own local day (a half-hour zone)."""
    zone = ZoneInfo("Australia/Adelaide")
    first, second, after = (datetime.combine(D0 + timedelta(days=n), time.min, zone).astimezone(UTC) for n in range(3))
    second_ago = timedelta(seconds=1)
    practice = make_practice(db_session, "P-DIARY")
    for made, status in ((first - second_ago, "inserted"), (first, "inserted"), (second - second_ago, "collision"),
                         (second, "sidebar_transferred"), (second, "rejected"), (after - second_ago, "rejected"),
                         (after, "inserted"), (second, "pending")):
        booking = make_booking(db_session, practice)
        booking.created_at, booking.diary_status = made, status
    db_session.commit()
    body = report(client, agent_headers, "diary", **{**period(2), "tz": "Australia/Adelaide"})
    days = [D0.isoformat(), (D0 + timedelta(days=1)).isoformat()]
    assert body["tables"]["by_day"]["rows"] == [[days[0], 1, 1, 50.0], [days[1], 1, 2, 33.3]]
    assert body["summary"] == {"inserted": 2, "failed": 3, "success_percent": 40.0}


def test_diagnosis_reads_only_the_failures(client: FlaskClient, agent_headers: dict[str, str],
                                           db_connection: Connection, ingest: Callable[..., Any]) -> None:
    """On SQLite, the period's failures come from the index led by diary status, not every booking."""
    if db_connection.dialect.name != "sqlite":
        pytest.skip("the query plan checked here is SQLite's")
    ingest(*practice_world("P1", "Riverside Dental", "BK"))
    today = utcnow().date()
    window = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat(), "tz": "UTC"}
    plans = sqlite_plans(db_connection, lambda: report(client, agent_headers, "diagnosis", **window))
    counted = [plan for statement, plan in plans if "FROM bookings" in statement and "count(" in statement]
    assert len(counted) == 1
    assert "COVERING INDEX ix_bookings_diary_created (diary_status=? AND created_at>? AND created_at<?)" in counted[0]


@pytest.mark.parametrize(("name", "args", "status", "code"), [
    ("nope", {}, 404, "no_such_report"),
    ("volume", {"tz": "Mars/Base"}, 400, "invalid_parameter"),
    ("volume", {"from": "2026-02-10", "to": "2026-02-01"}, 400, "invalid_parameter"),
    ("volume", {"from": "2020-01-01", "to": "2026-01-01"}, 400, "invalid_parameter"),
    ("volume", {"from": "yesterday"}, 400, "invalid_parameter"),
    ("volume", {"format": "xml"}, 400, "invalid_parameter"),
    ("csat", {"format": "csv", "table": "nope"}, 400, "invalid_parameter"),
])
def test_bad_report_requests(client: FlaskClient, agent_headers: dict[str, str], name: str, args: dict[str, str],
                             status: int, code: str) -> None:
    assert report(client, agent_headers, name, status, **args)["error"]["code"] == code


def test_reports_are_for_agents(client: FlaskClient) -> None:
    assert client.get("/api/v1/reports/volume").status_code == 401

