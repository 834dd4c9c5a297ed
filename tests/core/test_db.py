"""helpdesk.core.db: ``insert_many`` and ``DriverStatement`` store rows as SQLAlchemy would, ``any_of`` finds
what ``IN`` finds, UTC moments on SQLite."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import uuid4

import pytest
from flask import Flask
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    MetaData,
    Table,
    bindparam,
    create_engine,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from helpdesk.bookings.models import IngestedEvent, PracticeSettings
from helpdesk.core import db
from helpdesk.core.db import (
    SQLITE_AUTOCHECKPOINT_PAGES,
    SQLITE_BULK_AUTOCHECKPOINT_PAGES,
    DriverConnection,
    DriverStatement,
    LazyTransaction,
    UTCDateTime,
    any_of,
    checkpoint_rarely,
    begun,
    first_unlocked,
    insert_many,
    make_engine,
)
from tests.conftest import migrate
from tests.factories import make_practice

MOMENT = datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=timezone(timedelta(hours=-5)))


def _event_row(event_id: str, practice_id: str) -> dict[str, object]:
    return {"id": event_id, "type": "booking.created", "practice_id": practice_id, "occurred_at": MOMENT,
            "received_at": MOMENT + timedelta(seconds=1),
            "payload": {"id": event_id, "text": "Zoë <b>", "n": [1, None, True]}}


def test_rows_read_back_the_same_as_through_sqlalchemy(db_session: Session) -> None:
    practice = make_practice(db_session)
    db_session.execute(insert(IngestedEvent.__table__), [_event_row("by-sqlalchemy", practice.id)])
    insert_many(db_session, IngestedEvent.__table__, [_event_row(f"by-driver-{i}", practice.id) for i in range(3)])
    rows = {r.id: r for r in db_session.execute(
        select(IngestedEvent.__table__).where(IngestedEvent.id.like("by-%")))}
    assert set(rows) == {"by-sqlalchemy", "by-driver-0", "by-driver-1", "by-driver-2"}
    reference = rows.pop("by-sqlalchemy")
    for event_id, row in rows.items():
        assert row.occurred_at == MOMENT and row.occurred_at.tzinfo is not None  # stored in UTC, read back aware
        assert (row.type, row.practice_id, row.occurred_at, row.received_at) == (
            reference.type, reference.practice_id, reference.occurred_at, reference.received_at)
        assert row.payload == {**reference.payload, "id": event_id}
    stored = db_session.connection().exec_driver_sql(
        "SELECT occurred_at, received_at FROM ingested_events"
        " WHERE id IN ('by-sqlalchemy', 'by-driver-0', 'by-driver-1', 'by-driver-2')").all()
    assert len(stored) == 4 and len(set(stored)) == 1  # the very same stored values (on SQLite, the same text)
    # Range searches compare the stored text: a row from either path sorts the same way.
    later = db_session.scalars(select(IngestedEvent.id).where(
        IngestedEvent.id.like("by-%"), IngestedEvent.occurred_at >= MOMENT)).all()
    assert len(later) == 4


def test_a_column_with_a_python_default_must_be_given(db_session: Session) -> None:
    practice = make_practice(db_session)
    row = _event_row("no-received-at", practice.id)
    del row["received_at"]
    with pytest.raises(ValueError, match="received_at"):
        insert_many(db_session, IngestedEvent.__table__, [row])
    settings = {"event_id": "s-1", "practice_id": practice.id, "effective_at": MOMENT, "name": "A",
                "timezone": "UTC", "integration_mode": "integrated", "collision_alerts": True,
                "connection_alerts": True}
    with pytest.raises(ValueError, match="booking_emails"):
        insert_many(db_session, PracticeSettings.__table__, [settings])


def test_nothing_to_insert_is_no_statement(db_session: Session) -> None:
    insert_many(db_session, IngestedEvent.__table__, [])
    assert db_session.scalars(select(IngestedEvent.id)).all() == []


def test_rows_of_one_column_are_inserted_too(db_session: Session) -> None:
    """A single column's value is read as a one-value row (``itemgetter`` of one name gives a scalar)."""
    moments = Table(f"moments_{uuid4().hex[:8]}", MetaData(), Column("at", UTCDateTime(), primary_key=True))
    moments.create(db_session.connection())
    insert_many(db_session, moments, [{"at": MOMENT}, {"at": MOMENT + timedelta(days=1)}])
    assert db_session.scalars(select(moments.c.at).order_by(moments.c.at)).all() == [MOMENT, MOMENT + timedelta(days=1)]



@pytest.mark.parametrize("payload", [
    {"text": "Zoë <b>\u2028", "n": [1, -(2**63), 2**63 - 1, 0.5, None, True], "nested": {"a": []}},
    {"beyond 64 bits": 2**64},  # orjson refuses it: the stdlib writes it
])
def test_json_columns_read_back_what_was_stored(db_session: Session, payload: dict[str, object]) -> None:
    practice = make_practice(db_session)
    insert_many(db_session, IngestedEvent.__table__, [{**_event_row("json-driver", practice.id), "payload": payload}])
    db_session.execute(insert(IngestedEvent.__table__), [{**_event_row("json-core", practice.id), "payload": payload}])
    stored = db_session.scalars(select(IngestedEvent.payload).where(IngestedEvent.id.like("json-%"))).all()
    assert stored == [payload, payload]


MOMENTS = [
    MOMENT,
    datetime(1900, 1, 1, tzinfo=timezone.utc),
    datetime(2199, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc),
    datetime(2026, 10, 25, 1, 30, tzinfo=timezone(timedelta(hours=14))),
    datetime(2026, 11, 26, 9, 30, 0, 1, tzinfo=timezone.utc),
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_moments_are_bound_as_naive_utc_and_read_back_aware(moment: datetime) -> None:
    """The PostgreSQL path: the same values as ``astimezone(utc).replace(tzinfo=None)`` and back."""
    dialect = postgresql.dialect()
    naive = UTCDateTime().process_bind_param(moment, dialect)
    assert naive == moment.astimezone(timezone.utc).replace(tzinfo=None) and naive.tzinfo is None
    back = UTCDateTime().process_result_value(naive, dialect)
    assert back == moment and back.tzinfo is timezone.utc
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(naive, dialect)


@pytest.mark.parametrize("moment", MOMENTS)
def test_sqlite_moments_are_stored_as_sqlalchemys_own_text(moment: datetime) -> None:
    """``UTCDateTime`` converts and formats in one step on SQLite: the same text as the two steps."""
    dialect = sqlite.dialect()
    fused = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    plain = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert fused(moment) == plain(moment.astimezone(timezone.utc).replace(tzinfo=None))
    assert fused(None) is None
    with pytest.raises(ValueError, match="naive"):
        fused(moment.replace(tzinfo=None))
    read = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    assert read(fused(moment)) == moment and read(fused(moment)).tzinfo is timezone.utc
    assert read(None) is None


def test_a_moment_formatted_again_gives_its_own_text() -> None:
    """The processor remembers the last moment it formatted; another moment never gets that text."""
    dialect = sqlite.dialect()
    fused = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    later = MOMENT + timedelta(microseconds=1)
    texts = [fused(moment) for moment in (MOMENT, MOMENT, later, later, MOMENT, later)]
    assert texts == [fused(MOMENT)] * 2 + [fused(later)] * 2 + [fused(MOMENT), fused(later)]
    assert texts[0] != texts[2]


def test_sqlite_moments_read_back_from_any_text_sqlalchemy_parses() -> None:
    """Text written without microseconds (or with a T) reads back as SQLAlchemy's parser reads it."""
    dialect = sqlite.dialect()
    read = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    plain = DateTime().dialect_impl(dialect).result_processor(dialect, None)
    for text in ("2026-11-26 09:30:00", "2026-11-26 09:30:00.000001", "2026-11-26T09:30:00.5"):
        assert read(text) == plain(text).replace(tzinfo=timezone.utc)


def test_any_of_finds_what_in_finds_and_keeps_each_statement_apart(db_session: Session) -> None:
    practice = make_practice(db_session)
    insert_many(db_session, IngestedEvent.__table__, [_event_row(f"e-{i}", practice.id) for i in range(5)])
    by_id = select(IngestedEvent.id).where(any_of(IngestedEvent.id, "wanted"))
    by_type = select(IngestedEvent.id).where(any_of(IngestedEvent.type, "wanted"),
                                             IngestedEvent.id.like("e-%"))
    for _ in range(2):  # the second time from SQLAlchemy's statement cache
        assert sorted(db_session.scalars(by_id, {"wanted": ["e-1", "e-3", "nope"]})) == ["e-1", "e-3"]
        assert sorted(db_session.scalars(by_type, {"wanted": ["booking.created"]})) == [f"e-{i}" for i in range(5)]
        assert db_session.scalars(by_id, {"wanted": []}).all() == []
    awkward = ['e-"quoted"', "e-Zoë\\", "e-'", "e-\u2028"]  # as the JSON array must carry them
    insert_many(db_session, IngestedEvent.__table__, [_event_row(event_id, practice.id) for event_id in awkward])
    assert sorted(db_session.scalars(by_id, {"wanted": [*awkward, "e-Zoe"]})) == sorted(awkward)


def test_any_of_is_one_index_search_per_element_or_one_array(db_session: Session) -> None:
    """SQLite: one JSON array, each element searched in the primary key; PostgreSQL: one array parameter."""
    dialect = db_session.get_bind().dialect
    statement = select(IngestedEvent.id).where(any_of(IngestedEvent.id, "wanted"))
    sql = str(statement.compile(dialect=dialect))
    if dialect.name == "postgresql":
        assert "= ANY (" in sql and sql.count("%(") == 1, sql
        return
    assert "= 1" not in sql and sql.count("?") == 1, sql  # a comparison with one parameter
    plan = " ".join(str(row) for row in db_session.connection().exec_driver_sql(
        "EXPLAIN QUERY PLAN " + sql, ('["a", "b"]',)))
    assert "SEARCH ingested_events" in plan and "SCAN ingested_events" not in plan, plan


def test_a_repeated_key_is_sqlalchemys_integrity_error_and_stores_nothing(db_session: Session) -> None:
    """The ingest retries on ``IntegrityError``: COPY's own error must arrive as that, too."""
    practice = make_practice(db_session)
    insert_many(db_session, IngestedEvent.__table__, [_event_row("kept", practice.id)])
    with pytest.raises(IntegrityError):
        with db_session.begin_nested():
            insert_many(db_session, IngestedEvent.__table__,
                        [_event_row("new-1", practice.id), _event_row("kept", practice.id)])
    assert sorted(db_session.scalars(select(IngestedEvent.id).where(IngestedEvent.id.in_(["kept", "new-1"])))) == ["kept"]


_EVENTS = IngestedEvent.__table__
_STORE_EVENT = DriverStatement(insert(_EVENTS).returning(_EVENTS.c.id, _EVENTS.c.type), tuple(_event_row("", "")))
_RETYPE_EVENT = DriverStatement(update(_EVENTS).where(_EVENTS.c.id == bindparam("p_id"), _EVENTS.c.type != "retyped")
                                .values(type="retyped", received_at=bindparam("p_at")).returning(_EVENTS.c.id))


def test_a_driver_statement_stores_what_sqlalchemy_would_in_the_sessions_transaction(db_session: Session) -> None:
    practice = make_practice(db_session)
    db_session.execute(insert(_EVENTS), [_event_row("by-sqlalchemy", practice.id)])
    assert _STORE_EVENT.first(db_session, _event_row("by-driver", practice.id)) == ("by-driver", "booking.created")
    rows = {r.id: r for r in db_session.execute(select(_EVENTS).where(_EVENTS.c.id.like("by-%")))}
    assert rows["by-driver"].occurred_at == MOMENT and rows["by-driver"].occurred_at.tzinfo is not None
    assert rows["by-driver"].payload == {**rows["by-sqlalchemy"].payload, "id": "by-driver"}
    stored = db_session.connection().exec_driver_sql(
        "SELECT occurred_at, received_at FROM ingested_events WHERE id IN ('by-sqlalchemy', 'by-driver')").all()
    assert len(stored) == 2 and len(set(stored)) == 1  # the very same stored values (on SQLite, the same text)
    # The statement's own values (the literal type and the != guard) are sent with the caller's.
    assert _RETYPE_EVENT.first(db_session, {"p_id": "by-driver", "p_at": MOMENT}) == ("by-driver",)
    assert _RETYPE_EVENT.first(db_session, {"p_id": "by-driver", "p_at": MOMENT}) is None
    with pytest.raises(KeyError):
        _RETYPE_EVENT.first(db_session, {"p_id": "by-driver"})
    db_session.rollback()  # it was the session's transaction: nothing of it stays
    assert db_session.scalar(select(_EVENTS.c.id).where(_EVENTS.c.id == "by-driver")) is None


def test_a_driver_statements_repeated_key_is_sqlalchemys_integrity_error(db_session: Session) -> None:
    """The chat answers a resent message with its original on ``IntegrityError``."""
    practice = make_practice(db_session)
    _STORE_EVENT.first(db_session, _event_row("once", practice.id))
    with pytest.raises(IntegrityError):
        with db_session.begin_nested():
            _STORE_EVENT.first(db_session, _event_row("once", practice.id))
    assert db_session.scalars(select(_EVENTS.c.id).where(_EVENTS.c.id == "once")).all() == ["once"]


def test_sql_sent_straight_to_a_connection_the_server_dropped_is_a_503s_operational_error(database_url: str) -> None:
    """COPY and a lazy transaction's statements run on the driver's connection: a server gone
    mid-request must still reach the 503 handler as SQLAlchemy's OperationalError, with the
    pooled connection thrown away (and the lazy transaction's end must not hide it)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("a server to lose is PostgreSQL's (SQLite runs in the process)")
    engine = create_engine(database_url)
    app = Flask(__name__)
    app.extensions["db_bind"] = engine

    def terminate(backend: int) -> None:
        with engine.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({int(backend)})")

    try:
        with Session(engine) as session:
            terminate(session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
            with pytest.raises(OperationalError) as raised:
                insert_many(session, IngestedEvent.__table__, [_event_row("never", "nowhere")])
            assert raised.value.connection_invalidated
        with app.app_context(), pytest.raises(OperationalError) as raised:
            with LazyTransaction() as writer:
                driver = writer.connection()
                terminate(driver.dbapi_connection.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[union-attr]
                _STORE_EVENT.first(driver, _event_row("never", "nowhere"))
        assert raised.value.connection_invalidated and engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_a_bulk_write_checkpoints_rarely_and_only_its_own_transaction(tmp_path: Path) -> None:
    """SQLite's checkpoint runs in the COMMIT that crosses the threshold: an ingest batch raises it
    for its own transaction; the connection goes back to the pool at the default, so a chat
    message's commit never copies 20,000 pages while the server's loop waits."""
    engine = make_engine(f"sqlite:///{tmp_path / 'checkpoints.db'}")

    def threshold(connection: Connection) -> int:
        return connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()  # type: ignore[no-any-return]

    try:
        with Session(engine) as session:
            assert threshold(session.connection()) == SQLITE_AUTOCHECKPOINT_PAGES
            checkpoint_rarely(session)
            assert threshold(session.connection()) == SQLITE_BULK_AUTOCHECKPOINT_PAGES
            session.commit()
        assert engine.pool.checkedin() == 1
        with engine.connect() as connection:  # that pooled connection again, back at the default
            assert threshold(connection) == SQLITE_AUTOCHECKPOINT_PAGES
    finally:
        engine.dispose()


def _stored_ids(engine: Engine, ids: list[str]) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.scalars(select(_EVENTS.c.id).where(_EVENTS.c.id.in_(ids))))


def test_a_lazy_transaction_begins_at_its_first_statement_and_keeps_only_what_it_commits(
        app: Flask, app_context: None) -> None:
    """On the app's engine (a server's): its own pooled connection, given back when it closes
    (on SQLite kept aside for the next one)."""
    engine = db.get_engine(app)
    engine.dispose()  # what earlier tests' writers kept aside goes back
    kept, dropped, left = (f"lazy-{name}-{uuid4().hex[:8]}" for name in ("kept", "dropped", "left"))
    kept_aside = 1 if engine.dialect.name == "sqlite" else 0
    try:
        with LazyTransaction() as writer:
            assert not writer.begun and engine.pool.checkedout() == 0  # type: ignore[attr-defined]
            _STORE_EVENT.first(writer.connection(), _event_row(kept, "P-lazy"))
            assert writer.begun
            writer.commit()
            _STORE_EVENT.first(writer.connection(), _event_row(dropped, "P-lazy"))  # a second transaction
            writer.rollback()
            _STORE_EVENT.first(writer.connection(), _event_row(left, "P-lazy"))  # never committed
        assert engine.pool.checkedout() == kept_aside  # type: ignore[attr-defined]
        assert _stored_ids(engine, [kept, dropped, left]) == [kept]
    finally:
        with engine.begin() as connection:
            connection.execute(_EVENTS.delete().where(_EVENTS.c.id.in_([kept, dropped, left])))


def test_on_sqlite_the_next_lazy_transaction_takes_the_connection_the_last_ended_on(tmp_path: Path) -> None:
    """Not through the pool each time: its checkout and checkin cost twice the statements."""
    url = f"sqlite:///{tmp_path / 'writer.db'}"
    migrate(url)
    app = Flask(__name__)
    app.extensions["db_bind"] = engine = make_engine(url)
    with app.app_context():
        used = []
        for event_id in ("first", "second"):
            with LazyTransaction() as writer:
                used.append(writer.connection().dbapi_connection)  # type: ignore[union-attr]
                _STORE_EVENT.first(writer.connection(), _event_row(event_id, "P-lazy"))
                writer.commit()
        assert used[0] is used[1] and engine.pool.checkedout() == 1  # type: ignore[attr-defined]
        with LazyTransaction() as writer:  # one the driver threw out is not kept
            driver = writer.connection()
            assert isinstance(driver, DriverConnection)
            driver.invalidate(RuntimeError("thrown out"))
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        with LazyTransaction() as writer:
            kept = writer.connection().dbapi_connection  # type: ignore[union-attr]
            _STORE_EVENT.first(writer.connection(), _event_row("third", "P-lazy"))
            writer.commit()
    engine.dispose()  # closes the one kept aside
    with pytest.raises(sqlite3.ProgrammingError):
        kept.execute("SELECT 1")
    assert _stored_ids(engine, ["first", "second", "third"]) == ["first", "second", "third"]
    engine.dispose()


def test_on_sqlite_an_unlocked_read_answers_while_another_writer_holds_the_lock(tmp_path: Path) -> None:
    """A background loop's poll must not wait in the driver (the eventlet hub with it) for a
    writer: it reads outside a transaction, where WAL takes no lock, and sees what was committed."""
    url = f"sqlite:///{tmp_path / 'unlocked.db'}"
    migrate(url)
    engine = make_engine(url)
    with Session(engine) as session:
        _STORE_EVENT.first(session, _event_row("committed", "P-read"))
        session.commit()
    count = DriverStatement(select(func.count()).select_from(_EVENTS))
    with Session(engine) as writer, Session(engine) as poller:
        _STORE_EVENT.first(writer, _event_row("not-yet", "P-read"))  # BEGIN IMMEDIATE: the lock is held
        started = time.monotonic()
        assert first_unlocked(poller, count, {}) == (1,)
        assert time.monotonic() - started < 1  # not the 30 s busy timeout
        assert not poller.in_transaction()
    engine.dispose()


def test_in_a_tests_rolled_back_transaction_a_lazy_transaction_is_a_savepoint(app_context: None,
                                                                               db_session: Session) -> None:
    with LazyTransaction() as writer:
        _STORE_EVENT.first(writer.connection(), _event_row("in-savepoint", "P-lazy"))
        writer.commit()
    with LazyTransaction() as writer:
        _STORE_EVENT.first(writer.connection(), _event_row("rolled-back", "P-lazy"))
    found = db_session.scalars(select(_EVENTS.c.id).where(_EVENTS.c.id.in_(["in-savepoint", "rolled-back"]))).all()
    assert found == ["in-savepoint"]  # and the test's own rollback takes it away


def test_sqlite_has_one_writer_so_a_session_begins_only_once_a_lazy_transaction_has_let_go(
        tmp_path: Path) -> None:
    """Why ``chat.service._store`` rolls its writer back before the session reads why a message was
    refused: every transaction begins ``BEGIN IMMEDIATE``, and a second one would wait the busy
    timeout (30 s on the server, holding up every green thread)."""
    url = f"sqlite:///{tmp_path / 'writers.db'}"
    migrate(url)
    app = Flask(__name__)
    app.extensions["db_bind"] = engine = make_engine(url)
    try:
        with app.app_context(), LazyTransaction() as writer:
            _STORE_EVENT.first(writer.connection(), _event_row("first", "P-lazy"))
            other = sqlite3.connect(tmp_path / "writers.db", timeout=0.05, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            writer.rollback()
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            other.close()
    finally:
        engine.dispose()


def test_asking_whether_the_contexts_session_has_begun_makes_no_session(app_context: None,
                                                                         db_session: Session) -> None:
    db.session.remove()
    assert not begun(db.session) and not db.session.registry.has()
    db.session.add(IngestedEvent(**_event_row("pending", "P-lazy")))
    assert begun(db.session) and begun(db.session())  # pending, not yet flushed
    db.session.rollback()
    assert not begun(db.session)
