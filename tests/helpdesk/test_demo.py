"""The demo world: every cause code shows up, --if-empty, determinism, and the printed logins work."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpdesk.bookings import diagnosis, ingest
from helpdesk.bookings.demo import PRACTICES, DemoWorld
from helpdesk.bookings.models import Booking, IngestedEvent, Practice
from helpdesk.bookings.queries import diagnose_booking

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
    now = datetime.now(timezone.utc)
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
