"""Bulk batches: stored and answered at once, projected by the projection loop from the queue."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import create_engine, delete, func, select
from sqlalchemy.orm import Session

from helpdesk.bookings import ingest as ingest_rules
from helpdesk.bookings import projection
from helpdesk.bookings.models import Booking, BookingFact, IngestedEvent, Practice, QueuedEvent
from helpdesk.core.clock import advance, frozen_at, utcnow
from tests.helpdesk.factories import booking_created, booking_event, diary_failed, diary_inserted, practice_upserted
from tests.helpdesk.test_ingest import practice_state, world

QUIET, MAX_LAG = 0.2, 5.0


@pytest.fixture
def bulk(app: Flask) -> Flask:
    """Batches of more than five events are queued; a chunk projects at most five."""
    app.config.update(INGEST_INLINE_MAX_EVENTS=5, INGEST_PROJECTION_CHUNK=5,
                      INGEST_PROJECTION_QUIET_SECONDS=QUIET, INGEST_PROJECTION_MAX_LAG_SECONDS=MAX_LAG)
    return app


def queued(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(QueuedEvent)) or 0


def bookings(session: Session, pid: str) -> int:
    return session.scalar(select(func.count()).select_from(Booking).where(Booking.practice_id == pid)) or 0


def test_a_bulk_batch_is_answered_stored_and_queued_then_projected_as_inline(
    bulk: Flask, ingest: Any, db_session: Session,
) -> None:
    bulk.config["INGEST_INLINE_MAX_EVENTS"] = 13
    assert ingest(*world("P2")) == {"accepted": 13, "duplicates": 0, "queued": 0}
    bulk.config["INGEST_INLINE_MAX_EVENTS"] = 12
    assert ingest(*world("P3")) == {"accepted": 13, "duplicates": 0, "queued": 13}
    assert bookings(db_session, "P3") == 0  # not projected yet, but stored
    assert db_session.scalar(select(func.count()).select_from(IngestedEvent).where(
        IngestedEvent.practice_id == "P3")) == 13

    assert projection.drain(bulk) == 13  # five at a time
    assert queued(db_session) == 0
    db_session.expire_all()
    assert practice_state(db_session, "P3") == practice_state(db_session, "P2")


def test_a_queued_event_sent_again_is_a_duplicate_and_projected_once(
    bulk: Flask, ingest: Any, db_session: Session,
) -> None:
    events = world()
    assert ingest(*events)["queued"] == 13
    assert ingest(*events) == {"accepted": 0, "duplicates": 13, "queued": 0}
    assert queued(db_session) == 13
    projection.drain(bulk)
    assert db_session.scalar(select(func.count()).select_from(BookingFact)) == 6  # each fact of the world once


def test_chunks_take_the_oldest_queued_events_first(bulk: Flask, ingest: Any, db_session: Session) -> None:
    first = [booking_created(f"BK-{i}") for i in range(6)]
    second = [booking_created(f"BK-{i}") for i in range(6, 12)]
    ingest(*first)
    ingest(*second)
    assert projection.project_chunk(bulk) == 5
    assert {b.reference for b in db_session.scalars(select(Booking))} == {f"BK-{i}" for i in range(5)}
    assert projection.project_chunk(bulk) == 5
    assert projection.project_chunk(bulk) == 2
    assert projection.project_chunk(bulk) == 0
    assert bookings(db_session, "P1") == 12


def test_queued_and_inline_events_about_one_booking_converge_in_any_order(
    bulk: Flask, ingest: Any, db_session: Session,
) -> None:
    """A fact sent after a queued batch may be projected before it: the booking still ends right."""
    ingest(*[booking_created(f"BK-{i}") for i in range(6)])  # queued
    ingest(booking_event("email.delivered", "BK-0"), diary_failed("collision", "BK-0"))  # inline, first
    assert bookings(db_session, "P1") == 0
    projection.drain(bulk)
    booking = db_session.scalar(select(Booking).where(Booking.reference == "BK-0"))
    assert (booking.email_status, booking.diary_status) == ("delivered", "collision")


def test_the_queue_is_projected_once_batches_pause_or_when_its_oldest_waited_too_long(
    bulk: Flask, ingest: Any, db_session: Session,
) -> None:
    def due() -> bool:
        return ingest_rules.projection_due(db_session, utcnow(), QUIET, MAX_LAG)

    with frozen_at(utcnow().replace(microsecond=0)):
        assert not due()  # nothing queued
        ingest(*[booking_created(f"BK-{i}") for i in range(6)])
        advance(timedelta(seconds=0.1))
        assert not due()  # batches may still be coming
        advance(timedelta(seconds=0.1))
        assert due()  # a pause
        for step in range(47):  # then a batch every 0.1 s: never a pause
            ingest(*[booking_created(f"BK-{step}-{i}") for i in range(6)])
            advance(timedelta(seconds=0.1))
            assert not due()
        ingest(*[booking_created(f"BK-last-{i}") for i in range(6)])
        advance(timedelta(seconds=0.1))
        assert due()  # the oldest has waited MAX_LAG
        assert projection.project_due(bulk) == 5


def test_a_projected_chunk_tells_the_live_views_of_its_practices(bulk: Flask, ingest: Any, db_session: Session) -> None:
    told: list[frozenset[str]] = []

    def listen(_sender: Flask, practice_ids: frozenset[str], **_kw: Any) -> None:
        told.append(practice_ids)

    ingest(*[booking_created(f"BK-{i}", "P7") for i in range(6)])
    with ingest_rules.events_ingested.connected_to(listen):
        assert told == []
        projection.project_chunk(bulk)
    assert told == [frozenset({"P7"})]


def test_an_event_todays_rules_refuse_is_taken_off_the_queue_without_blocking_it(
    bulk: Flask, ingest: Any, db_session: Session, caplog: pytest.LogCaptureFixture,
) -> None:
    ingest(*[booking_created(f"BK-{i}") for i in range(6)])
    stale = db_session.scalar(select(IngestedEvent).where(IngestedEvent.id == db_session.scalar(
        select(QueuedEvent.event_id).order_by(QueuedEvent.seq).limit(1))))
    stale.payload = {**stale.payload, "type": "booking.teleported"}
    db_session.flush()
    with caplog.at_level(logging.ERROR, logger="helpdesk.bookings.ingest"):
        assert projection.drain(bulk) == 5
    assert "refused by today's rules" in caplog.text
    assert queued(db_session) == 0 and bookings(db_session, "P1") == 5


def test_ingest_project_applies_the_whole_queue(bulk: Flask, ingest: Any, cli_runner: FlaskCliRunner,
                                                db_session: Session) -> None:
    ingest(practice_upserted(), *[booking_created(f"BK-{i}") for i in range(11)])
    result = cli_runner.invoke(args=["ingest", "project"])
    assert result.exit_code == 0, result.output
    assert "12 queued events projected" in result.output
    assert bookings(db_session, "P1") == 11


def test_two_transactions_applying_facts_of_one_booking_at_once_keep_both(app: Flask, database_url: str) -> None:
    """A request's small batch and the loop's chunk about the same booking, committed in turn:
    the second must read the first's fact before it judges the booking."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's transactions begin with its one write lock: two writers cannot interleave")
    engine = create_engine(database_url)
    practice_id = f"P-race-{uuid.uuid4().hex[:8]}"

    def apply(session: Session, event: dict[str, Any]) -> None:
        with app.app_context():
            ingest_rules.apply_events(session, ingest_rules.parse_batch([event], 100))

    def second() -> None:
        with Session(engine) as session:
            apply(session, diary_inserted("BK-1", practice_id))
            session.commit()

    try:
        with Session(engine) as session:
            apply(session, booking_created("BK-1", practice_id))
            session.commit()
        with Session(engine) as first:
            apply(first, booking_event("email.delivered", "BK-1", practice_id))
            other = threading.Thread(target=second)
            other.start()
            other.join(0.5)
            assert other.is_alive()  # waiting for the first to end
            first.commit()
        other.join(10)
        with Session(engine) as session:
            booking = session.scalar(select(Booking).where(Booking.practice_id == practice_id))
            assert (booking.email_status, booking.diary_status, booking.received_ways) == ("delivered", "inserted", 3)
    finally:
        with Session(engine) as session:
            for model in (BookingFact, Booking, IngestedEvent, Practice):
                column = model.id if model is Practice else model.practice_id
                session.execute(delete(model).where(column == practice_id))
            session.commit()
        engine.dispose()
