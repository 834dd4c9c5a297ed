"""The demo world: every cause code shows up, --if-empty, determinism, the printed logins work, the
support history (requests, chats) is there once, and the demo portal lists failing bookings."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chat.models import Conversation
from helpdesk.bookings import diagnosis, ingest
from helpdesk.bookings.demo import PRACTICES, DemoWorld
from helpdesk.bookings.models import Booking, IngestedEvent, Practice
from helpdesk.bookings.queries import diagnose_booking
from helpdesk.core.clock import utcnow
from helpdesk.requests.models import Request, RequestComment

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
EXAMPLE_LINE = re.compile(
    r"^  (\S+)\s+(\S+)\s+([A-Z]{3}-[0-9A-Z]{7})  \((upcoming|past) appointment\)  /console/practices/\2\?booking=\3$",
    re.M)


def load(cli_runner: FlaskCliRunner, *args: str) -> str:
    result = cli_runner.invoke(args=["demo", "load", "--quiet", *args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_small_demo_shows_every_cause_code(cli_runner: FlaskCliRunner, db_session: Session, app_context: None) -> None:
    output = load(cli_runner, "--bookings", "300")
    examples = {label: (practice_id, reference) for label, practice_id, reference, _ in EXAMPLE_LINE.findall(output)}
    assert examples, output
    assert set(diagnosis.CAUSE_CODES) <= set(examples), output
    now = utcnow()  # the clock the demo was built around
    for cause in diagnosis.CAUSE_CODES:
        practice_id, reference = examples[cause]
        verdict = diagnose_booking(db_session, practice_id, reference, now)
        assert verdict is not None and cause in verdict["causes"], (cause, verdict)
    assert count(db_session, Practice) == len(PRACTICES) >= 6
    assert count(db_session, Booking) >= 300


def test_the_stories_hold(cli_runner: FlaskCliRunner, db_session: Session) -> None:
    load(cli_runner, "--bookings", "300")
    practices = {p.id: p for p in db_session.scalars(select(Practice))}
    assert {p.integration_mode for p in practices.values()} == {"integrated", "sidebar"}
    assert len({p.pms_software for p in practices.values() if p.pms_software}) >= 4
    assert practices["harbour-physio"].connector_online is False  # offline now, never restored
    assert practices["riverside-dental"].connector_online is True
    assert practices["meadow-family-dental"].collision_alerts is False
    assert practices["lakeside-smile"].booking_emails  # the address added later is the current one
    statuses = dict(db_session.execute(
        select(Booking.email_status, func.count()).where(Booking.practice_id == "old-mill-osteopathy")
        .group_by(Booking.email_status)).all())
    assert statuses.get("bounced", 0) > 0 and statuses.get("delivered", 0) > 0
    cancelled = db_session.scalar(select(func.count()).where(Booking.cancelled_at.is_not(None)))
    assert cancelled


def test_if_empty_loads_nothing_the_second_time(cli_runner: FlaskCliRunner, db_session: Session) -> None:
    first = load(cli_runner, "--bookings", "100", "--if-empty")
    assert "Loaded" in first
    before = (count(db_session, Booking), count(db_session, IngestedEvent))
    second = load(cli_runner, "--bookings", "100", "--if-empty", "--seed", "8")
    assert "Loaded" not in second and "already" in second
    assert (count(db_session, Booking), count(db_session, IngestedEvent)) == before


def test_the_same_seed_gives_the_same_world() -> None:
    one = list(DemoWorld(bookings=400, seed=3, now=NOW).events())
    two = list(DemoWorld(bookings=400, seed=3, now=NOW).events())
    other = list(DemoWorld(bookings=400, seed=4, now=NOW).events())
    assert one == two
    assert one != other
    ingest.parse_batch(one, len(one))  # every event follows the ingest contract


def test_loading_twice_with_the_same_seed_adds_nothing(cli_runner: FlaskCliRunner, db_session: Session) -> None:
    load(cli_runner, "--bookings", "100", "--seed", "5")
    before = (count(db_session, Booking), count(db_session, IngestedEvent))
    output = load(cli_runner, "--bookings", "100", "--seed", "5")
    assert "0 new" in output
    assert (count(db_session, Booking), count(db_session, IngestedEvent)) == before


def test_the_event_stream_is_in_time_order_and_in_the_past() -> None:
    events = list(DemoWorld(bookings=300, seed=1, now=NOW).events())
    moments = [datetime.fromisoformat(e["occurred_at"]) for e in events]
    assert max(moments) <= NOW
    assert len({e["id"] for e in events}) == len(events)
    kinds = {e["type"] for e in events}
    assert set(ingest.VALIDATORS) - kinds == set(), set(ingest.VALIDATORS) - kinds


@pytest.mark.parametrize("bookings", [1000, 1_000_000])
def test_the_first_practice_gets_a_fifth(bookings: int) -> None:
    shares = DemoWorld(bookings=bookings, now=NOW).shares()
    assert sum(shares.values()) == bookings
    assert shares[PRACTICES[0].id] == bookings // 5


def test_the_printed_logins_work(cli_runner: FlaskCliRunner, client: FlaskClient, app: object) -> None:
    output = load(cli_runner, "--bookings", "50")
    fields = dict(re.findall(r"^  (agent email|agent password|agent API token|ingest secret|widget token)\s+(\S+)",
                             output, re.M))
    assert fields["agent email"] == "demo.agent@helpdesk.example"
    assert fields["ingest secret"] == app.config["INGEST_SECRET"]  # type: ignore[attr-defined]
    response = client.get("/api/v1/practices/riverside-dental/health",
                          headers={"Authorization": f"Bearer {fields['agent API token']}"})
    assert response.status_code == 200
    mine = client.get("/api/v1/me/health", headers={"Authorization": f"Bearer {fields['widget token']}"})
    assert mine.status_code == 200 and mine.get_json()["practice"]["id"] == "riverside-dental"
    again = load(cli_runner, "--bookings", "50", "--seed", "9")
    assert "agent password   (set when" in again  # the agent exists: no password to show


def test_logins_issues_new_credentials(cli_runner: FlaskCliRunner, client: FlaskClient) -> None:
    load(cli_runner, "--bookings", "20")
    result = cli_runner.invoke(args=["demo", "logins"])
    assert result.exit_code == 0, result.output
    token = re.search(r"agent API token  (\S+)", result.output)
    assert token is not None
    response = client.get("/api/v1/practices", headers={"Authorization": f"Bearer {token.group(1)}"})
    assert response.status_code == 200


def test_the_demo_has_requests_and_chats_once(cli_runner: FlaskCliRunner, db_session: Session) -> None:
    output = load(cli_runner, "--bookings", "300")
    assert "Support history: 3 requests and 2 chats" in output
    requests = {r.subject: r for r in db_session.scalars(select(Request))}
    assert len(requests) == 3
    answered = requests["Patient arrived but the booking is not in our diary"]
    assert answered.status == "solved" and answered.booking_snapshot and answered.first_reply_seconds == 3600
    comments = list(db_session.scalars(select(RequestComment)))
    assert len(comments) == 7 and any(not c.public for c in comments)
    chats = {c.status: c for c in db_session.scalars(select(Conversation))}
    assert set(chats) == {"closed", "waiting"}
    assert (chats["closed"].rating, chats["closed"].first_response_seconds) == (5, 40)
    assert chats["closed"].rating_comment and chats["closed"].transcript
    assert "0 requests and 0 chats" in load(cli_runner, "--bookings", "300")  # loaded again: nothing more
    assert count(db_session, Request) == 3 and count(db_session, Conversation) == 2


def test_the_demo_portal_meets_failures(cli_runner: FlaskCliRunner, client: FlaskClient, app: Flask,
                                        widget_headers: Callable[..., dict[str, str]]) -> None:
    load(cli_runner, "--bookings", "300")
    app.config["DEMO_PORTAL"] = True
    page = client.get("/demo/portal").text
    cells = [re.findall(r"<td>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", page, re.S)]
    rows = {row[0]: row[4] for row in cells if len(row) == 6}  # reference -> diary
    assert {"collision", "rejected", "connection lost", "patient match"} <= set(rows.values()), rows
    for reference, diary in rows.items():
        assert f'data-reference="{reference}">Help with {reference}</button>' in page
        if diary != "inserted":
            answer = client.get(f"/api/v1/me/widget/check?q={reference}", headers=widget_headers("riverside-dental"))
            assert answer.get_json()["diagnosis"]["causes"][0] == f"diary_{diary.replace(' ', '_')}"
