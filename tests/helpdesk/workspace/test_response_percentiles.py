"""The response report's medians and p90s come from SQL (the value at a rank, read from an index in
value order); they must be exactly the nearest-rank percentiles Python would compute, on the real
database engine, with ties, empty periods and rows on the reader's day boundaries."""

from __future__ import annotations

import random
from collections.abc import Sequence
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
from helpdesk.workspace.reports import nearest_rank
from tests.helpdesk.workspace.plans import sqlite_plans

D0: date = (utcnow() - timedelta(days=20)).date()
DAYS = 3
TIES = (0, 59, 60, 60, 60, 61, 300, 300, 301, 3599, 3600, 7200, 7200, 86_400)  # whole seconds, many equal


def reference_percentile(values: Sequence[int], share: float) -> int | None:
    """The definition itself, by brute force: the smallest value that at least ``share`` of the
    values are at or below."""
    return min((v for v in values if sum(x <= v for x in values) >= share * len(values)), default=None)


def minutes(seconds: int | None) -> float | None:
    return None if seconds is None else round(seconds / 60.0, 1)


def local_midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time.min, ZoneInfo(tz)).astimezone(UTC)


def moments(rng: random.Random, tz: str, count: int) -> list[datetime]:
    """Times around the period, with some exactly on (and a second either side of) its bounds."""
    start, end = local_midnight(D0, tz), local_midnight(D0 + timedelta(days=DAYS), tz)
    edges = [start - timedelta(seconds=1), start, end - timedelta(seconds=1), end]
    spread = [start + timedelta(seconds=rng.randrange(-86_400, (DAYS + 1) * 86_400)) for _ in range(count)]
    return edges + spread


def random_support(session: Session, rng: random.Random, tz: str) -> tuple[list[Conversation], list[Request]]:
    chats, reqs = [], []
    for n, created in enumerate(moments(rng, tz, 70)):
        accepted = rng.choice(TIES) if rng.random() < 0.85 else None
        chats.append(Conversation(
            practice_id="P1", requester_id=f"u-{n}", status="closed", created_at=created,
            closed_at=created + timedelta(hours=1), first_response_seconds=accepted,
            resolution_seconds=None if accepted is None or rng.random() < 0.2 else accepted + rng.choice(TIES)))
    for n, created in enumerate(moments(rng, tz, 40)):
        replied = rng.choice(TIES) if rng.random() < 0.7 else None
        reqs.append(Request(
            subject=f"r{n}", requester_email=f"r{n}@p.test", priority=rng.choice(("low", "normal", "high", "urgent")),
            created_at=created, first_reply_seconds=replied,
            resolution_seconds=rng.choice(TIES) if replied is not None and rng.random() < 0.6 else None))
    session.add_all([*chats, *reqs])
    session.commit()
    return chats, reqs


def expected_row(label: str, rows: Sequence[Any], attribute: str, start: datetime, end: datetime) -> list[Any]:
    values = [getattr(r, attribute) for r in rows if start <= r.created_at < end and getattr(r, attribute) is not None]
    return [label, len(values), minutes(reference_percentile(values, 0.5)), minutes(reference_percentile(values, 0.9))]


def times(client: FlaskClient, headers: dict[str, str], first: date, last: date, tz: str) -> dict[str, Any]:
    response = client.get("/api/v1/reports/response", headers=headers,
                          query_string={"from": first.isoformat(), "to": last.isoformat(), "tz": tz})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


@pytest.mark.parametrize(("seed", "tz"), [(1, "UTC"), (2, "Europe/London"), (3, "Australia/Adelaide"),
                                          (4, "America/New_York")])
def test_sql_percentiles_are_the_nearest_rank_ones(client: FlaskClient, agent_headers: dict[str, str],
                                                   db_session: Session, seed: int, tz: str) -> None:
    chats, reqs = random_support(db_session, random.Random(seed), tz)
    start, end = local_midnight(D0, tz), local_midnight(D0 + timedelta(days=DAYS), tz)
    body = times(client, agent_headers, D0, D0 + timedelta(days=DAYS - 1), tz)
    assert body["tables"]["times"]["rows"] == [
        expected_row("chat first response", chats, "first_response_seconds", start, end),
        expected_row("chat resolution", chats, "resolution_seconds", start, end),
        expected_row("request first reply", reqs, "first_reply_seconds", start, end),
        expected_row("request resolution", reqs, "resolution_seconds", start, end),
    ]
    first = expected_row("", chats, "first_response_seconds", start, end)
    assert (body["summary"]["chat_first_response_median_min"], body["summary"]["chat_first_response_p90_min"]) == (
        first[2], first[3])
    never = [c for c in chats if start <= c.created_at < end and c.first_response_seconds is None]
    assert body["summary"]["chats_never_accepted"] == len(never)


def test_a_period_without_chats_or_requests(client: FlaskClient, agent_headers: dict[str, str],
                                            db_session: Session) -> None:
    random_support(db_session, random.Random(5), "UTC")
    later = D0 + timedelta(days=10)
    body = times(client, agent_headers, later, later, "UTC")
    assert [row[1:] for row in body["tables"]["times"]["rows"]] == [[0, None, None]] * 4
    assert body["summary"]["chat_first_response_median_min"] is None and body["summary"]["chats_never_accepted"] == 0


def test_a_single_value_is_its_own_median_and_p90(client: FlaskClient, agent_headers: dict[str, str],
                                                  db_session: Session) -> None:
    created = local_midnight(D0, "UTC") + timedelta(hours=9)
    db_session.add(Conversation(practice_id="P1", requester_id="u-1", status="closed", created_at=created,
                                closed_at=created + timedelta(minutes=9), first_response_seconds=90,
                                resolution_seconds=540))
    db_session.commit()
    rows = times(client, agent_headers, D0, D0, "UTC")["tables"]["times"]["rows"]
    assert rows[:2] == [["chat first response", 1, 1.5, 1.5], ["chat resolution", 1, 9.0, 9.0]]


def test_nearest_rank() -> None:
    assert nearest_rank(0, 0.5) is None
    assert [nearest_rank(n, 0.5) for n in (1, 2, 3, 4)] == [1, 1, 2, 2]
    assert [nearest_rank(n, 0.9) for n in (1, 4, 10, 11, 30)] == [1, 4, 9, 10, 27]


def test_the_percentiles_are_read_in_index_order(client: FlaskClient, agent_headers: dict[str, str],
                                                 db_session: Session, db_connection: Connection) -> None:
    """On SQLite, each rank is read from the index that leads with the duration: no sort."""
    if db_connection.dialect.name != "sqlite":
        pytest.skip("the query plan checked here is SQLite's")
    random_support(db_session, random.Random(6), "UTC")
    plans = sqlite_plans(db_connection, lambda: times(client, agent_headers, D0, D0 + timedelta(days=DAYS - 1), "UTC"))
    ranked = [plan for statement, plan in plans if "OFFSET" in statement]
    assert len(ranked) == 1
    plan = ranked[0]
    for index in ("ix_chat_conversations_first_response", "ix_chat_conversations_resolution",
                  "ix_requests_first_reply", "ix_requests_resolution"):
        assert f"COVERING INDEX {index} " in plan
    assert "TEMP B-TREE" not in plan
