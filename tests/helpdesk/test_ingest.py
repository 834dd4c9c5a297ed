"""The signed ingest API: signatures, validation, atomic batches, idempotency, order independence."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from helpdesk.bookings.models import (
    AlertEmail,
    Booking,
    BookingFact,
    IngestedEvent,
    IntegrationEvent,
    Practice,
    PracticeSettings,
)
from helpdesk.core.clock import frozen_at, unix_now, utcnow
from tests.helpdesk.factories import (
    INGEST_PATH,
    alert_sent,
    at,
    booking_created,
    booking_event,
    connector_event,
    day,
    practice_upserted,
    signed_headers,
    signed_post,
)


def count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def stored_state(session: Session) -> dict[str, Any]:
    """What a reader can see, independent of the order in which it was written."""
    practices = {p.id: (p.name, p.booking_emails, p.connector_online, p.connector_state_since)
                 for p in session.scalars(select(Practice))}
    bookings = {(b.practice_id, b.reference): (b.email_status, b.diary_status, b.received_ways, b.cancelled_at,
                                               b.appointment_at)
                for b in session.scalars(select(Booking))}
    return {"practices": practices, "bookings": bookings, "facts": count(session, BookingFact),
            "alerts": count(session, AlertEmail), "integration": count(session, IntegrationEvent)}


def world(pid: str = "P1") -> list[dict[str, Any]]:
    return [
        practice_upserted(pid, occurred_at=at(-1000)),
        booking_created("BK-1", pid, occurred_at=at(0)),
        booking_event("email.sent", "BK-1", pid, occurred_at=at(1)),
        booking_event("email.delivered", "BK-1", pid, occurred_at=at(2)),
        booking_event("diary.failed", "BK-1", pid, reason="collision", detail="slot taken", occurred_at=at(1)),
        alert_sent("collision", pid, reference="BK-1", occurred_at=at(3)),
        booking_created("BK-2", pid, occurred_at=at(10)),
        booking_event("email.bounced", "BK-2", pid, detail="550 unknown", occurred_at=at(11)),
        booking_event("diary.inserted", "BK-2", pid, pms_appointment_id="A-2", occurred_at=at(12)),
        booking_event("booking.cancelled", "BK-2", pid, occurred_at=at(50)),
        connector_event("connection_lost", pid, occurred_at=at(20)),
        connector_event("connection_restored", pid, occurred_at=at(40)),
        connector_event("heartbeat", pid, occurred_at=at(45)),
    ]


def practice_state(session: Session, pid: str) -> dict[str, Any]:
    practice = session.get(Practice, pid)
    bookings = session.scalars(select(Booking).where(Booking.practice_id == pid).order_by(Booking.reference))
    return {
        "practice": (practice.name, practice.booking_emails, practice.connector_online, practice.connector_state_since,
                     practice.connector_last_heartbeat_at),
        "bookings": [(b.reference, b.email_status, b.diary_status, b.received_ways, b.cancelled_at, b.appointment_at)
                     for b in bookings],
    }


# --- happy path ------------------------------------------------------------------------------

def test_a_batch_is_stored_and_projected(ingest: Any, db_session: Session) -> None:
    assert ingest(*world()) == {"accepted": 13, "duplicates": 0, "queued": 0}
    bk1 = db_session.scalar(select(Booking).where(Booking.reference == "BK-1"))
    assert (bk1.email_status, bk1.diary_status, bk1.received_ways) == ("delivered", "collision", 2)
    bk2 = db_session.scalar(select(Booking).where(Booking.reference == "BK-2"))
    assert (bk2.email_status, bk2.diary_status, bk2.received_ways) == ("bounced", "inserted", 2)
    assert bk2.cancelled_at is not None
    practice = db_session.get(Practice, "P1")
    assert practice.name == "Riverside Dental" and practice.profile_known
    assert practice.connector_online is True
    assert practice.connector_last_heartbeat_at is not None
    assert count(db_session, IngestedEvent) == 13
    assert count(db_session, IntegrationEvent) == 3  # lost, restored, the failed insert


def test_a_single_event_object_is_accepted(ingest: Any) -> None:
    assert ingest(practice_upserted())["accepted"] == 1


# --- signatures ------------------------------------------------------------------------------

def _post(client: FlaskClient, body: bytes, headers: dict[str, str]) -> Any:
    return client.post(INGEST_PATH, data=body, headers=headers)


def test_unsigned_request_is_refused(client: FlaskClient, db_session: Session) -> None:
    response = client.post(INGEST_PATH, json=[practice_upserted()])
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unsigned"
    assert count(db_session, Practice) == 0


def test_wrong_secret_is_refused(client: FlaskClient, db_session: Session) -> None:
    response = signed_post(client, [practice_upserted()], "not-the-secret")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "bad_signature"
    assert count(db_session, Practice) == 0


def test_body_changed_after_signing_is_refused(client: FlaskClient, app: Flask) -> None:
    body = json.dumps([practice_upserted()]).encode()
    headers = signed_headers(app.config["INGEST_SECRET"], body)
    tampered = body.replace(b"Riverside", b"Evilside")
    assert _post(client, tampered, headers).status_code == 401


def _signed_at_skew(client: FlaskClient, app: Flask, skew: int) -> Any:
    """Sign ``skew`` seconds from a clock held on a whole second, so the edge of the window is exact."""
    with frozen_at(utcnow().replace(microsecond=0)):
        return signed_post(client, [practice_upserted()], app.config["INGEST_SECRET"], timestamp=int(unix_now()) + skew)


@pytest.mark.parametrize("skew", [-301, 301, -3600])
def test_stale_or_future_timestamp_is_refused(client: FlaskClient, app: Flask, skew: int) -> None:
    response = _signed_at_skew(client, app, skew)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "stale_timestamp"


@pytest.mark.parametrize("skew", [-300, 300])
def test_timestamp_at_the_edge_of_the_window_is_accepted(client: FlaskClient, app: Flask, skew: int) -> None:
    assert _signed_at_skew(client, app, skew).status_code == 200


def test_timestamp_must_be_unix_seconds(client: FlaskClient, app: Flask) -> None:
    body = b"[]"
    headers = signed_headers(app.config["INGEST_SECRET"], body)
    headers["X-Helpdesk-Timestamp"] = "yesterday"
    assert _post(client, body, headers).get_json()["error"]["code"] == "bad_timestamp"


# --- validation ------------------------------------------------------------------------------

def test_broken_json_is_a_400(client: FlaskClient, app: Flask) -> None:
    response = signed_post(client, b'[{"id": "x",', app.config["INGEST_SECRET"])
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e.pop("id"), "id"),
        (lambda e: e.update(type="booking.exploded"), "type"),
        (lambda e: e.update(occurred_at="last tuesday"), "occurred_at"),
        (lambda e: e.update(occurred_at=f"{day(0)}T09:00:00"), "occurred_at"),
        (lambda e: e.update(practice_id=42), "practice_id"),
        (lambda e: e["data"].pop("reference"), "data.reference"),
        (lambda e: e["data"]["patient"].pop("last_name"), "data.patient.last_name"),
        (lambda e: e["data"].update(appointment_at="soon"), "data.appointment_at"),
        (lambda e: e["data"]["patient"].update(date_of_birth="02/04/1980"), "data.patient.date_of_birth"),
        (lambda e: e["data"].update(reference="R" * 65), "data.reference"),
        (lambda e: e.update(data=[1, 2]), "data"),
    ],
)
def test_a_malformed_event_names_the_event_and_field(ingest: Any, db_session: Session, mutate: Any, field: str) -> None:
    good = practice_upserted()
    bad = booking_created(event_id="evt-bad")
    mutate(bad)
    body = ingest(good, bad, expect=422)
    error = body["error"]
    assert error["code"] == "invalid_event"
    assert error["event_index"] == 1
    assert error["field"] == field
    assert field in error["message"] and "event 1" in error["message"]
    assert count(db_session, Practice) == 0, "a batch is all-or-nothing"
    assert count(db_session, IngestedEvent) == 0


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (booking_event("diary.failed", reason="gremlins"), "data.reason"),
        (booking_event("email.bounced", recipient="not-an-address"), "data.recipient"),
        (alert_sent("weather"), "data.kind"),
        (practice_upserted(mode="carrier-pigeon"), "data.integration.mode"),
        (practice_upserted(booking_emails=["ok@x.test", "<script>@x"]), "data.notification_settings.booking_emails[1]"),
        (practice_upserted(timezone_name="Mars/Olympus"), "data.timezone"),
        (practice_upserted(collision_alerts="yes"), "data.notification_settings.collision_alerts"),  # type: ignore[arg-type]
    ],
)
def test_bad_values_are_rejected(ingest: Any, event: dict[str, Any], field: str) -> None:
    assert ingest(event, expect=422)["error"]["field"] == field


def test_not_an_object_or_list(ingest: Any, client: FlaskClient, app: Flask) -> None:
    assert signed_post(client, b'"hello"', app.config["INGEST_SECRET"]).status_code == 422
    assert signed_post(client, b"[]", app.config["INGEST_SECRET"]).get_json()["error"]["code"] == "empty_batch"


def test_batch_over_the_limit_is_refused(app: Flask, client: FlaskClient) -> None:
    app.config["INGEST_MAX_BATCH"] = 3
    response = signed_post(client, [connector_event("heartbeat") for _ in range(4)], app.config["INGEST_SECRET"])
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "batch_too_large"


def test_huge_body_is_refused_before_parsing(app: Flask, client: FlaskClient) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    events = [booking_created(f"BK-{i}") for i in range(200)]
    response = signed_post(client, events, app.config["INGEST_SECRET"])
    assert response.status_code == 413
    assert "error" in response.get_json()


def test_markup_is_stored_as_data_not_interpreted(ingest: Any, db_session: Session) -> None:
    ingest(practice_upserted(name="<script>alert(1)</script> Dental"))
    assert db_session.get(Practice, "P1").name == "<script>alert(1)</script> Dental"


def test_control_characters_are_rejected(ingest: Any) -> None:
    assert ingest(practice_upserted(name="Evil\x07Dental"), expect=422)["error"]["field"] == "data.name"
    assert ingest(practice_upserted(name="Evil\x00Dental"), expect=400)["error"]["code"] == "invalid_text"  # JSON guard


# --- idempotency and order -------------------------------------------------------------------

def test_a_repeated_batch_changes_nothing(ingest: Any, db_session: Session) -> None:
    events = world()
    ingest(*events)
    before = stored_state(db_session)
    assert ingest(*events) == {"accepted": 0, "duplicates": 13, "queued": 0}
    assert stored_state(db_session) == before
    assert count(db_session, IngestedEvent) == 13


def test_a_repeat_inside_one_batch_counts_once(ingest: Any, db_session: Session) -> None:
    sent = booking_event("email.sent", "BK-1")
    assert ingest(booking_created("BK-1"), sent, dict(sent)) == {"accepted": 2, "duplicates": 1, "queued": 0}
    assert count(db_session, BookingFact) == 1


def test_a_repeat_with_other_content_is_still_a_repeat(ingest: Any, db_session: Session) -> None:
    ingest(practice_upserted(event_id="e-1", name="First name"))
    assert ingest(practice_upserted(event_id="e-1", name="Second name"))["duplicates"] == 1
    assert db_session.get(Practice, "P1").name == "First name"


def test_outcomes_before_their_booking_are_kept_and_applied(ingest: Any, db_session: Session) -> None:
    ingest(booking_event("email.delivered", "BK-7", occurred_at=at(5)),
           booking_event("diary.failed", "BK-7", reason="rejected", occurred_at=at(6)))
    assert count(db_session, Booking) == 0
    assert db_session.get(Practice, "P1").profile_known is False  # a placeholder until the profile comes
    ingest(booking_created("BK-7", occurred_at=at(0)))
    booking = db_session.scalar(select(Booking).where(Booking.reference == "BK-7"))
    assert (booking.email_status, booking.diary_status, booking.received_ways) == ("delivered", "rejected", 2)


def test_every_arrival_order_converges(app: Flask, client: FlaskClient, db_session: Session) -> None:
    """The same world sent three ways (one by one, reversed, shuffled in two batches) ends the same."""
    secret = app.config["INGEST_SECRET"]
    orders = {
        "P-forward": lambda events: [[e] for e in events],
        "P-reversed": lambda events: [[e] for e in reversed(events)],
        "P-shuffled": lambda events: (lambda s: [s[:5], s[5:]])(random.Random(7).sample(events, len(events))),
    }
    for pid, arrange in orders.items():
        for batch in arrange(world(pid)):
            assert signed_post(client, batch, secret).status_code == 200
    states = [practice_state(db_session, pid) for pid in orders]
    assert states[0] == states[1] == states[2]
    assert states[0]["bookings"][0][1:4] == ("delivered", "collision", 2)
    assert states[0]["practice"][2] is True  # the restore came after the loss, whatever the order


def test_settings_that_arrive_late_rejudge_unnotified_bookings(ingest: Any, db_session: Session) -> None:
    ingest(booking_created("BK-3", occurred_at=at(0)), booking_event("diary.inserted", "BK-3", occurred_at=at(1)))
    booking = db_session.scalar(select(Booking).where(Booking.reference == "BK-3"))
    assert booking.email_status == "pending"  # we cannot know yet
    ingest(practice_upserted(booking_emails=[], occurred_at=at(-500)))
    db_session.refresh(booking)
    assert booking.email_status == "not_configured"
    assert count(db_session, PracticeSettings) == 1


def test_an_older_profile_arriving_late_does_not_replace_the_current_one(ingest: Any, db_session: Session) -> None:
    ingest(practice_upserted(name="New name", occurred_at=at(100)))
    ingest(practice_upserted(name="Old name", occurred_at=at(0)))
    practice = db_session.get(Practice, "P1")
    assert practice.name == "New name"
    assert count(db_session, PracticeSettings) == 2  # the old one is kept as history


@pytest.mark.parametrize("order", list(itertools.permutations(["lost", "restored", "lost2"])))
def test_connector_state_is_the_latest_transition(ingest: Any, db_session: Session, order: tuple[str, ...]) -> None:
    events = {
        "lost": connector_event("connection_lost", occurred_at=at(0)),
        "restored": connector_event("connection_restored", occurred_at=at(10)),
        "lost2": connector_event("connection_lost", occurred_at=at(20)),
    }
    for name in order:
        ingest(events[name])
    practice = db_session.get(Practice, "P1")
    assert practice.connector_online is False
    assert practice.connector_state_since.isoformat().startswith(f"{day(0)}T09:20")


def test_a_newer_booking_created_amends_the_booking(ingest: Any, db_session: Session) -> None:
    ingest(booking_created("BK-5", occurred_at=at(0), appointment_at=at(1000)))
    ingest(booking_created("BK-5", occurred_at=at(5), appointment_at=at(2000)))
    ingest(booking_created("BK-5", occurred_at=at(1), appointment_at=at(3000)))  # late and older: ignored
    booking = db_session.scalar(select(Booking).where(Booking.reference == "BK-5"))
    assert booking.appointment_at.isoformat().startswith(at(2000)[:16])
    assert count(db_session, Booking) == 1
