"""Database engine and session: one scoped session per request, committed at the HTTP edge
(``_commit_at_the_edge``).

SQLite (the embedded default) runs in WAL mode with a busy timeout, and every transaction
begins with ``BEGIN IMMEDIATE`` so a writer takes the lock up front instead of failing with
"database is locked" when it upgrades a read lock later.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from flask import Flask, Response, current_app, has_app_context
from sqlalchemy import Boolean, DateTime, MetaData, String, Table, any_, bindparam, create_engine, event, insert, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator

from helpdesk.core.guard import compact_json

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_BEGIN = "BEGIN IMMEDIATE"  # every transaction takes the write lock up front
# WAL pages after which a commit checkpoints: SQLite's own default, and more for a bulk write
# (``checkpoint_rarely``).
SQLITE_AUTOCHECKPOINT_PAGES = 1_000
SQLITE_BULK_AUTOCHECKPOINT_PAGES = 20_000
_BULK_CHECKPOINTS = "bulk_checkpoints"
# SQLite engines only: the pooled connection the last LazyTransaction ended on, kept out of the pool
# for the next one (see _take_writer).
_IDLE_WRITERS: WeakKeyDictionary[Engine, list[Any]] = WeakKeyDictionary()
_SQLITE_MOMENT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"  # SQLAlchemy's text for a DateTime on SQLite


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, always hands back aware UTC: SQLite forgets time zones, PostgreSQL need not."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Naive UTC by ``datetime.combine``: a fifth of ``replace(tzinfo=None)``'s cost, whose
        keyword parsing alone is about 9,000 instructions."""
        if value is None:
            return None
        if value.tzinfo is not timezone.utc:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(timezone.utc)
        return datetime.combine(value.date(), value.time())

    def bind_processor(self, dialect: Any) -> Any:
        """On SQLite, the UTC conversion and the text SQLite stores in one step: SQLAlchemy's own
        format, ``2026-11-26 09:30:00.000000`` (tests/core/test_db.py). Formatted from the fields,
        because ``datetime.replace`` and ``isoformat`` cost 1.3 us each (an ingest batch binds
        about fifteen hundred moments; chat messages bind them too)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        utc = timezone.utc
        # The last moment formatted, with its text, as one tuple (swapped whole, so threads never
        # see a moment with another's text): a batch's rows share their received_at, and a new
        # booking's created_at is its details_at.
        last: list[tuple[datetime | None, str | None]] = [(None, None)]

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            moment, text = last[0]
            if value is moment:
                return text
            if value.tzinfo is not utc:
                if value.tzinfo is None:
                    raise ValueError("naive datetime given to a UTC column")
                value = value.astimezone(utc)
            text = _SQLITE_MOMENT % (value.year, value.month, value.day, value.hour, value.minute, value.second,
                                     value.microsecond)
            last[0] = (value, text)
            return text

        return process

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        """On SQLite, SQLAlchemy's text read back as an aware moment in one C call (parsing, then
        ``replace(tzinfo=...)``, cost ten times as much)."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        parse = datetime.fromisoformat

        def process(value: str | None) -> datetime | None:
            return None if value is None else parse(value + "+00:00")

        return process

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return datetime.combine(value.date(), value.time(), timezone.utc)  # not replace(): see above


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class AppSession(Session):
    """Binds to the current app's database, so several apps in one process never share one.

    ``app.extensions["db_bind"]`` is the app's engine; tests point it at a connection inside a
    transaction they roll back (commits then only release savepoints), and give the session a
    ``fallback_bind`` for code they call outside any app context.
    """

    def __init__(self, *args: Any, fallback_bind: Any = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fallback_bind = fallback_bind

    def get_bind(self, mapper: Any = None, **kw: Any) -> Any:
        if self.bind is not None:
            return super().get_bind(mapper, **kw)
        if has_app_context():
            return current_app.extensions["db_bind"]
        if self.fallback_bind is not None:
            return self.fallback_bind
        raise RuntimeError("the database session needs an app context (or an explicit bind)")


session: scoped_session[Session] = scoped_session(
    sessionmaker(class_=AppSession, expire_on_commit=False, join_transaction_mode="create_savepoint")
)


class _AnyOf(ColumnElement[bool]):
    """``column IN (...)`` for a list bound as ``name``; see :func:`any_of`."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a comparison: SQLite must not get "... = 1"
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement), ("name", InternalTraversal.dp_string)]

    def __init__(self, column: Any, name: str) -> None:
        self.column = column
        self.name = name


class _JsonArray(TypeDecorator[list[Any]]):
    """A list bound as one JSON array's text, for SQLite's ``json_each``."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: list[Any] | None, dialect: Any) -> str | None:
        return None if value is None else compact_json(list(value))


@compiles(_AnyOf)
def _any_of_expanded(element: _AnyOf, compiler: Any, **kw: Any) -> str:
    """Where neither form below applies (``str()`` of a statement, with no dialect)."""
    return compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw)  # type: ignore[no-any-return]


@compiles(_AnyOf, "sqlite")
def _any_of_json_each(element: _AnyOf, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    values = compiler.process(bindparam(element.name, type_=_JsonArray()), **kw)
    return f"{column} IN (SELECT value FROM json_each({values}))"


@compiles(_AnyOf, "postgresql")
def _any_of_array(element: _AnyOf, compiler: Any, **kw: Any) -> str:
    return compiler.process(  # type: ignore[no-any-return]
        element.column == any_(bindparam(element.name, type_=ARRAY(element.column.type))), **kw)


def any_of(column: Any, name: str) -> ColumnElement[bool]:
    """``column`` is one of the list bound as ``name``, for a statement built once.

    On PostgreSQL, ``= ANY(:name)``: one array parameter. An expanded ``IN (:a, :b, ...)`` of 500
    ids took 7 ms there, the array 1.3 ms (SQLAlchemy renders and the server plans every
    element). On SQLite, ``IN (SELECT value FROM json_each(:name))``: one JSON array parameter,
    answered with one index search per element. An expanded ``IN`` was rendered again for every
    execution (its 500 placeholders), a twentieth of an ingest batch.
    """
    return _AnyOf(column, name)


@dataclass(frozen=True)
class _BulkInsert:
    """How ``insert_many`` sends rows of these columns: the driver's SQL, the order of the values
    and each value's type processor, and the way (PostgreSQL's COPY, or an executemany)."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Any, ...]
    copy: bool
    positional: bool

    @cached_property
    def _processed(self) -> tuple[tuple[int, Any], ...]:
        return tuple((index, process) for index, process in enumerate(self.processors) if process is not None)

    def positional_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """Each row's values in order, read in one C call; only the columns whose type has a
        bind processor then go through Python (one or two of a fact's eleven on SQLite)."""
        read, processed, single = itemgetter(*self.names), self._processed, len(self.names) == 1
        params = []
        for row in rows:
            values = [read(row)] if single else list(read(row))
            for index, process in processed:
                values[index] = process(values[index])
            params.append(tuple(values))  # SQLAlchemy's executemany takes tuples, not lists
        return params


_BULK_INSERTS: dict[tuple[Table, tuple[str, ...], str], _BulkInsert] = {}


def _bulk_insert(table: Table, columns: tuple[str, ...], dialect: Dialect) -> _BulkInsert:
    key = (table, columns, dialect.name)
    if key not in _BULK_INSERTS:
        defaulted = [c.name for c in table.c if c.default is not None and c.name not in columns]
        if defaulted:
            raise ValueError(f"insert_many into {table.name} must give the defaulted columns {defaulted}")
        if dialect.driver == "psycopg":
            quote = dialect.identifier_preparer.quote
            sql = (f"COPY {dialect.identifier_preparer.format_table(table)} "
                   f"({', '.join(quote(name) for name in columns)}) FROM STDIN")
            names, copy, positional = columns, True, True
        else:
            compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
            sql, copy, positional = compiled.string, False, compiled.positional
            names = tuple(compiled.positiontup) if positional else columns  # type: ignore[arg-type]
        processors = tuple(table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
        _BULK_INSERTS[key] = _BulkInsert(sql, names, processors, copy, positional)
    return _BULK_INSERTS[key]


class DriverConnection:
    """A driver connection as the statements sent straight to it need it: the dialect, the
    connection, and how to throw it away when the server is gone. For a pooled connection taken
    without a Core ``Connection`` around it (``LazyTransaction``), or one taken from a ``Connection``."""

    __slots__ = ("dialect", "dbapi_connection", "invalidate")

    def __init__(self, dialect: Dialect, dbapi_connection: Any, invalidate: Callable[[BaseException], None]) -> None:
        self.dialect = dialect
        self.dbapi_connection = dbapi_connection
        self.invalidate = invalidate

    @classmethod
    def of(cls, connection: Connection) -> DriverConnection:
        return cls(connection.dialect, connection.connection.dbapi_connection, connection.invalidate)

    def error(self, sql: str, exc: Exception) -> DBAPIError:
        """A driver's error, for SQL sent straight to it, as SQLAlchemy would have raised it: an
        IntegrityError for a repeated key; an OperationalError, with the connection invalidated,
        when the server is gone (the 503 handler's)."""
        gone = self.dialect.is_disconnect(exc, self.dbapi_connection, None)
        if gone:
            self.invalidate(exc)
        return DBAPIError.instance(sql, None, exc, self.dialect.loaded_dbapi.Error, connection_invalidated=gone,
                                   dialect=self.dialect)


def _copy_rows(connection: Connection, bulk: _BulkInsert, rows: list[tuple[Any, ...]]) -> None:
    """COPY ... FROM STDIN on the connection's own transaction."""
    try:
        with connection.connection.dbapi_connection.cursor() as cursor, cursor.copy(bulk.sql) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
    except connection.dialect.loaded_dbapi.Error as exc:
        raise DriverConnection.of(connection).error(bulk.sql, exc) from exc


@dataclass(frozen=True)
class _DriverSql:
    """A statement as one dialect's driver takes it: its SQL, the order of its parameters, and
    for each its type's bind processor and the value the statement itself holds (``required``
    when the caller must give it)."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Any, ...]
    values: tuple[Any, ...]
    positional: bool


_REQUIRED = object()


class DriverStatement:
    """A Core statement sent straight to the driver, on the session's connection and transaction.

    For the two statements every chat message runs: SQLAlchemy's execution of a compiled
    statement (an execution context, the parameters built, a result object) cost about three times
    what SQLite took to run them (docs/PERFORMANCE.md, "Live chat"). Compiled once per dialect;
    each value still goes through its type's bind processor and the driver's errors are raised as
    SQLAlchemy's. Rows come back as the driver gives them, so what it returns should be numbers
    and text.
    """

    def __init__(self, statement: Executable, column_keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.column_keys = list(column_keys) if column_keys is not None else None
        self._by_dialect: dict[tuple[str, str, str], _DriverSql] = {}

    def _compiled(self, dialect: Dialect) -> _DriverSql:
        key = (dialect.name, dialect.driver, dialect.paramstyle)  # the driver decides how parameters are written
        found = self._by_dialect.get(key)
        if found is None:
            compiled: Any = self.statement.compile(dialect=dialect, column_keys=self.column_keys)
            by_name = {name: bind for bind, name in compiled.bind_names.items()}
            names = tuple(compiled.positiontup) if compiled.positional else tuple(by_name)
            binds = [by_name[name] for name in names]
            found = _DriverSql(
                compiled.string, names,
                tuple(bind.type.dialect_impl(dialect).bind_processor(dialect) for bind in binds),
                tuple(_REQUIRED if bind.required else bind.value for bind in binds),
                compiled.positional)
            self._by_dialect[key] = found
        return found

    def first(self, on: Session | scoped_session[Session] | Connection | DriverConnection,
              params: Mapping[str, Any]) -> Any:
        """The first row the statement returns (``None`` if none), run in the session's transaction
        or on a connection's (a :class:`LazyTransaction`'s)."""
        if not isinstance(on, DriverConnection):
            on = DriverConnection.of(on if isinstance(on, Connection) else on.connection())
        driver = self._compiled(on.dialect)
        values = [params[name] if default is _REQUIRED else params.get(name, default)
                  for name, default in zip(driver.names, driver.values)]
        values = [value if process is None else process(value) for value, process in zip(values, driver.processors)]
        bound: Any = tuple(values) if driver.positional else dict(zip(driver.names, values))
        cursor = on.dbapi_connection.cursor()
        try:
            cursor.execute(driver.sql, bound)
            return cursor.fetchone()
        except on.dialect.loaded_dbapi.Error as exc:
            raise on.error(driver.sql, exc) from exc
        finally:
            cursor.close()


def first_unlocked(on: Session | scoped_session[Session], statement: DriverStatement,
                   params: Mapping[str, Any]) -> Any:
    """The first row of a read that never waits for a writer: for a background loop's frequent poll.

    On SQLite every transaction begins with the write lock, and a green thread waiting for it in
    the driver stops the whole eventlet hub, the lock's holder included if it is another green
    thread between two socket writes. Outside a transaction a WAL reader takes no lock, so the
    read runs there, on a pooled connection. Where the session binds to a connection (a test's)
    or to PostgreSQL, it runs in the session's transaction, which the caller ends.
    """
    bind = on.get_bind()
    if isinstance(bind, Connection) or bind.dialect.name != "sqlite":
        return statement.first(on, params)
    pooled = bind.raw_connection()
    try:
        return statement.first(DriverConnection(bind.dialect, pooled.dbapi_connection, pooled.invalidate), params)
    finally:
        pooled.close()


class LazyTransaction:
    """A transaction of its own on a pooled connection, begun at its first statement: for the
    writes of a hot path (a chat message) whose session has begun nothing. Neither the ORM
    session's bookkeeping nor a Core ``Connection``: making, beginning, committing and closing
    those were about 150 of the 350 µs a message took in process (docs/PERFORMANCE.md).

    On the driver's connection it begins as the engine's transactions do (``BEGIN IMMEDIATE`` on
    SQLite; PostgreSQL's driver begins at the first statement), and its driver's errors are
    raised as SQLAlchemy's. Where the app's sessions bind to a connection (a test's transaction
    that is rolled back) it takes a savepoint on it. SQLite has one writer: while this holds the
    lock the session must not begin a transaction of its own, so whoever reads through the
    session after a write here commits or rolls this back first. Close it in a ``with`` block.
    """

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._pooled: Any = None  # the pool's connection, taken at the first statement
        self._driver: DriverConnection | None = None
        self._test_connection: Connection | None = None
        self._savepoint: Any = None
        self.begun = False

    def connection(self) -> Connection | DriverConnection:
        if self._driver is None and self._test_connection is None:
            bind = current_app.extensions["db_bind"]
            if isinstance(bind, Connection):
                self._test_connection = bind
            else:
                self._engine, self._pooled = bind, _take_writer(bind)
                self._driver = DriverConnection(bind.dialect, self._pooled.dbapi_connection, self._pooled.invalidate)
        if self._test_connection is not None:
            if not self.begun:
                self._savepoint, self.begun = self._test_connection.begin_nested(), True
            return self._test_connection
        assert self._driver is not None
        if not self.begun:
            if self._driver.dialect.name == "sqlite":  # PostgreSQL's driver begins at the first statement
                self._on_driver(SQLITE_BEGIN, self._driver.dbapi_connection.execute, SQLITE_BEGIN)
            self.begun = True
        return self._driver

    def _on_driver(self, sql: str, step: Callable[..., Any], *args: Any) -> None:
        """``step(*args)``, its driver error raised as SQLAlchemy's (``sql`` names what failed)."""
        assert self._driver is not None
        try:
            step(*args)
        except self._driver.dialect.loaded_dbapi.Error as exc:
            raise self._driver.error(sql, exc) from exc

    def _end(self, how: str) -> None:
        if not self.begun:
            return
        self.begun = False
        if self._savepoint is not None:
            savepoint, self._savepoint = self._savepoint, None
            getattr(savepoint, how)()
        elif self._pooled.is_valid:  # not thrown away when the server went
            self._on_driver(how.upper(), getattr(self._pooled.dbapi_connection, how))

    def commit(self) -> None:
        self._end("commit")

    def rollback(self) -> None:
        self._end("rollback")

    def __enter__(self) -> LazyTransaction:
        return self

    def __exit__(self, *_exc: Any) -> None:
        try:
            self.rollback()
        finally:
            if self._engine is not None:  # set with the pooled connection
                _give_back_writer(self._engine, self._pooled)
            self._engine = self._pooled = self._driver = self._test_connection = None


def _take_writer(engine: Engine) -> Any:
    """A pooled connection for a LazyTransaction: on SQLite the one the last ended on, if idle.

    The pool's checkout and checkin (its queue, its events, the reset on return) were a tenth of
    a chat message's Python time, more than its two statements took (bench/chat.py throughput
    --callgrind); a LazyTransaction ends its own transaction, so nothing is left to reset. SQLite
    has one writer and no server to lose, so a kept connection is never stale. PostgreSQL's always
    come from the pool, whose pre-ping notices a server that went away."""
    idle = _IDLE_WRITERS.get(engine)
    if idle:
        with contextlib.suppress(IndexError):  # another thread took it in between
            return idle.pop()
    return engine.raw_connection()


def _give_back_writer(engine: Engine, pooled: Any) -> None:
    idle = _IDLE_WRITERS.get(engine)
    if idle is not None and not idle and pooled.is_valid:
        idle.append(pooled)
    else:
        pooled.close()  # back to the pool


def begun(on: Session | scoped_session[Session]) -> bool:
    """Whether the session has begun a transaction (adding an object begins one, before any
    flush). Asking the context's session (``db.session``) does not make one: a session costs
    about 50 µs to make and close, a tenth of a chat message's time in process."""
    if isinstance(on, scoped_session):
        if not on.registry.has():
            return False
        on = on()
    return on.in_transaction()


def insert_many(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT rows that all name the same columns: COPY on PostgreSQL, the driver's executemany elsewhere.

    Each value goes through its column type's own bind processor, as SQLAlchemy would send it;
    what is skipped is SQLAlchemy's building of every row's parameters (about a fifth of an ingest
    batch) and, on PostgreSQL, a statement per row (COPY took half the time of 500 INSERTs).
    docs/PERFORMANCE.md has the figures. A column with a Python-side default must be given.
    """
    if not rows:
        return
    connection = session.connection()
    bulk = _bulk_insert(table, tuple(rows[0]), connection.dialect)
    if bulk.positional:
        params: list[Any] = bulk.positional_rows(rows)
    else:
        pairs = tuple(zip(bulk.names, bulk.processors))
        params = [{name: row[name] if process is None else process(row[name]) for name, process in pairs}
                  for row in rows]
    if bulk.copy:
        _copy_rows(connection, bulk, params)
    else:
        connection.exec_driver_sql(bulk.sql, params)


# Each key's lock in the order of the keys: two transactions that share keys cannot wait for each other.
_WRITER_LOCKS = text(
    "SELECT count(pg_advisory_xact_lock(hashtextextended(key, 0))) "
    "FROM (SELECT unnest(CAST(:keys AS text[])) AS key ORDER BY 1) AS ordered"
)


def one_writer_per_key(session: Session, scope: str, keys: Iterable[str]) -> None:
    """Until the transaction ends, one writer at a time for each of ``keys`` (within ``scope``).

    A second transaction for the same key waits here, then reads what the first committed: a state
    computed from rows it read is not overwritten by one computed without them. On PostgreSQL,
    transaction-level advisory locks. On SQLite nothing: a transaction begins with its one write lock.
    """
    if session.connection().dialect.name == "postgresql":
        session.execute(_WRITER_LOCKS, {"keys": sorted(f"{scope}:{key}" for key in keys)})


def checkpoint_rarely(session: Session) -> None:
    """A bulk write (an ingest batch): on SQLite its transaction's connection lets the WAL grow to
    20,000 pages before a commit checkpoints it, until the connection goes back to the pool.

    The checkpoint runs inside the COMMIT that crosses the threshold, on the server's loop. At a
    million bookings checkpointing every 1,000 pages was ~40% of an ingest batch; but 20,000 for
    every connection stalled the loop ~100 ms whenever a chat message's commit crossed them
    (bench/chat.py throughput at 1,000 messages/s: p99 78-310 ms, against 28 ms; docs/PERFORMANCE.md).
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.connection.dbapi_connection.execute(  # type: ignore[union-attr]
            f"PRAGMA wal_autocheckpoint={SQLITE_BULK_AUTOCHECKPOINT_PAGES}")
        connection.connection.info[_BULK_CHECKPOINTS] = True


def make_engine(url: str, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, echo=echo, pool_pre_ping=True, future=True, json_serializer=compact_json)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        # Every ingested event is stored as sent: orjson writes it in a tenth of the stdlib's time.
        json_serializer=compact_json,
    )
    _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: Engine) -> None:
    _IDLE_WRITERS[engine] = []

    @event.listens_for(engine, "engine_disposed")
    def _on_dispose(disposed: Engine) -> None:
        for pooled in _IDLE_WRITERS.get(disposed, []):
            pooled.invalidate()  # closed: its pool is gone, and a checkin would keep it open in there
        _IDLE_WRITERS[disposed] = []

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection: Any, record: Any) -> None:
        if record.info.pop(_BULK_CHECKPOINTS, False) and dbapi_connection is not None:
            dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Straight to the driver: every chat message begins a transaction, and going through
        # exec_driver_sql cost about a tenth of the message's time (bench/chat.py node).
        connection.connection.dbapi_connection.execute(SQLITE_BEGIN)


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"], echo=app.config["SQL_ECHO"])
    app.extensions["db_engine"] = engine
    app.extensions["db_bind"] = engine

    @app.after_request
    def _commit_at_the_edge(response: Response) -> Response:
        """One transaction per request: kept when it succeeded, dropped when it did not.

        A view may still commit earlier, where the order matters (before a signal or an emit).
        """
        if response.status_code < 400:
            session.commit()
        else:
            session.rollback()
        return response

    @app.teardown_appcontext
    def _remove_session(_exc: BaseException | None) -> None:
        if session.registry.has():  # most Socket.IO events never make one: nothing to clear
            session.remove()


def get_engine(app: Flask) -> Engine:
    return app.extensions["db_engine"]
