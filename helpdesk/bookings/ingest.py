"""The ingest API's rules: verify the platform's signature, validate a batch, apply it.

A batch is validated whole before anything is written, then applied in one transaction (the
caller commits). Events are idempotent by id, and every fact is stored as it comes, so events
may arrive in any order and the state still converges (see ``helpdesk.diagnosis.project``).

A bulk batch may instead be queued: stored in the ledger and the queue in its transaction, and
projected later by :func:`project_queued` (the projection loop, ``helpdesk.bookings.projection``).
Because the state converges whatever the order, a queued event projected after a later one
changes nothing of the outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from blinker import Namespace
from sqlalchemy import and_, bindparam, delete, insert, or_, select, true, update
from sqlalchemy.orm import Session

from helpdesk.bookings import diagnosis, hours, incidents
from helpdesk.bookings.models import (
    INTEGRATION_MODES,
    AlertEmail,
    Booking,
    BookingFact,
    ClosedDay,
    IngestedEvent,
    IntegrationEvent,
    Practice,
    PracticeSettings,
    QueuedEvent,
)
from helpdesk.bookings.queries import load_settings_histories, load_settings_history, name_key
from helpdesk.core.clock import utcnow
from helpdesk.core.db import (
    DriverStatement,
    any_of,
    checkpoint_rarely,
    first_unlocked,
    insert_many,
    one_writer_per_key,
)
from helpdesk.core.errors import InvalidInput, TooLarge
from helpdesk.core.text import CONTROL_CHARACTERS, EMAIL_RE
from helpdesk.core.web import storable_moment

log = logging.getLogger(__name__)
signals = Namespace()
# Sent after a batch is committed, with ``practice_ids``: live views (chat) refresh what they show.
events_ingested = signals.signal("events-ingested")
SQL_CHUNK = 500


# --- validation ------------------------------------------------------------------------------

class EventError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    occurred_at: datetime
    practice_id: str
    data: dict[str, Any]
    raw: dict[str, Any]


def _string(data: dict[str, Any], name: str, max_len: int, required: bool = True, prefix: str = "data.") -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise EventError(prefix + name, "is required")
        return None
    if not isinstance(value, str):
        raise EventError(prefix + name, "must be a string")
    value = value.strip()
    if required and not value:
        raise EventError(prefix + name, "must not be blank")
    if len(value) > max_len:
        raise EventError(prefix + name, f"must be at most {max_len} characters")
    if CONTROL_CHARACTERS.search(value):
        raise EventError(prefix + name, "must not contain control characters")
    return value


def _timestamp(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise EventError(field, "must be an ISO 8601 date-time string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise EventError(field, "must be an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        raise EventError(field, "must include a UTC offset (for example 2026-11-26T09:30:00Z)")
    if not storable_moment(parsed):
        raise EventError(field, "must be between 1900 and 2200")
    return parsed


def _email(value: Any, field: str) -> str:
    if not isinstance(value, str) or len(value) > 320 or not EMAIL_RE.match(value.strip()):
        raise EventError(field, "must be an email address")
    return value.strip()


def _email_list(settings: dict[str, Any], name: str) -> list[str]:
    value = settings.get(name, [])
    if not isinstance(value, list) or len(value) > 20:
        raise EventError(f"data.notification_settings.{name}", "must be a list of at most 20 email addresses")
    return [_email(item, f"data.notification_settings.{name}[{i}]") for i, item in enumerate(value)]


def _bool(settings: dict[str, Any], name: str, default: bool) -> bool:
    value = settings.get(name, default)
    if not isinstance(value, bool):
        raise EventError(f"data.notification_settings.{name}", "must be true or false")
    return value


def _object(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise EventError(f"data.{name}", "must be an object")
    return value


def _practice_profile(data: dict[str, Any]) -> dict[str, Any]:
    timezone_name = _string(data, "timezone", 64, required=False) or "UTC"
    try:
        ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise EventError("data.timezone", "must be an IANA time zone such as Europe/London") from exc
    integration = _object(data, "integration")
    mode = integration.get("mode", "integrated")
    if mode not in INTEGRATION_MODES:
        raise EventError("data.integration.mode", f"must be one of {', '.join(INTEGRATION_MODES)}")
    settings = _object(data, "notification_settings")
    return {
        "name": _string(data, "name", 200),
        "timezone": timezone_name,
        "integration_mode": mode,
        "pms_software": _string(integration, "software", 100, required=False, prefix="data.integration."),
        "booking_emails": _email_list(settings, "booking_emails"),
        "alert_emails": _email_list(settings, "alert_emails"),
        "collision_alerts": _bool(settings, "collision_alerts", True),
        "connection_alerts": _bool(settings, "connection_alerts", True),
        **_practice_hours(data),
    }


def _practice_hours(data: dict[str, Any]) -> dict[str, Any]:
    """The optional calendar fields of ``practice.upserted`` (see ``helpdesk.bookings.hours``)."""
    try:
        week = data.get("opening_hours")
        region = data.get("holidays_region")
        digest = data.get("digest_time")
        return {
            "opening_hours": hours.validate_week(week) if week is not None else None,
            "holidays_region": hours.validate_region(region) if region is not None else None,
            "digest_time": hours.validate_time_of_day(digest, "data.digest_time") if digest is not None else None,
        }
    except hours.HoursError as exc:
        raise EventError(exc.field, exc.message) from exc


def _practice_closed(data: dict[str, Any]) -> dict[str, Any]:
    text = _string(data, "date", 10)
    try:
        day = date.fromisoformat(text or "")
    except ValueError as exc:
        raise EventError("data.date", "must be a date (YYYY-MM-DD)") from exc
    return {"day": day, "reason": _string(data, "reason", 500, required=False)}


def _booking(data: dict[str, Any]) -> dict[str, Any]:
    patient = _object(data, "patient")
    dob_text = _string(patient, "date_of_birth", 10, required=False, prefix="data.patient.")
    try:
        dob = date.fromisoformat(dob_text) if dob_text else None
    except ValueError as exc:
        raise EventError("data.patient.date_of_birth", "must be a date (YYYY-MM-DD)") from exc
    if "appointment_at" not in data:
        raise EventError("data.appointment_at", "is required")
    return {
        "reference": _string(data, "reference", 64),
        "appointment_at": _timestamp(data["appointment_at"], "data.appointment_at"),
        "practitioner": _string(data, "practitioner", 200, required=False),
        "appointment_type": _string(data, "appointment_type", 200, required=False),
        "first_name": _string(patient, "first_name", 100, prefix="data.patient."),
        "last_name": _string(patient, "last_name", 100, prefix="data.patient."),
        "date_of_birth": dob,
    }


def _reference_only(data: dict[str, Any]) -> dict[str, Any]:
    return {"reference": _string(data, "reference", 64)}


def _email_outcome(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "reference": _string(data, "reference", 64),
        "recipient": _email(data.get("recipient"), "data.recipient"),
        "detail": _string(data, "detail", 2000, required=False),
    }


def _diary_inserted(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "reference": _string(data, "reference", 64),
        "pms_appointment_id": _string(data, "pms_appointment_id", 128, required=False),
    }


def _diary_failed(data: dict[str, Any]) -> dict[str, Any]:
    reason = data.get("reason")
    if reason not in diagnosis.DIARY_FAILURES:
        raise EventError("data.reason", f"must be one of {', '.join(diagnosis.DIARY_FAILURES)}")
    return {
        "reference": _string(data, "reference", 64),
        "reason": reason,
        "detail": _string(data, "detail", 2000, required=False),
    }


def _connector(data: dict[str, Any]) -> dict[str, Any]:
    return {"detail": _string(data, "detail", 2000, required=False)}


def _alert(data: dict[str, Any]) -> dict[str, Any]:
    kind = data.get("kind")
    if kind not in diagnosis.ALERT_KINDS:
        raise EventError("data.kind", f"must be one of {', '.join(diagnosis.ALERT_KINDS)}")
    return {
        "kind": kind,
        "recipient": _email(data.get("recipient"), "data.recipient"),
        "reference": _string(data, "reference", 64, required=False),
    }


VALIDATORS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "practice.upserted": _practice_profile,
    "booking.created": _booking,
    "booking.cancelled": _reference_only,
    "email.sent": _email_outcome,
    "email.delivered": _email_outcome,
    "email.bounced": _email_outcome,
    "email.failed": _email_outcome,
    "diary.inserted": _diary_inserted,
    "diary.failed": _diary_failed,
    "sidebar.alerted": _reference_only,
    "sidebar.transferred": _reference_only,
    "connector.heartbeat": _connector,
    "connector.connection_lost": _connector,
    "connector.connection_restored": _connector,
    "alert.sent": _alert,
    "practice.closed": _practice_closed,
    "diary.removed": _reference_only,
}


def parse_event(raw: Any) -> Event:
    if not isinstance(raw, dict):
        raise EventError("", "must be a JSON object")
    event_id = _string(raw, "id", 128, prefix="")
    event_type = raw.get("type")
    if not isinstance(event_type, str) or event_type not in VALIDATORS:
        raise EventError("type", f"must be one of {', '.join(VALIDATORS)}")
    if "occurred_at" not in raw:
        raise EventError("occurred_at", "is required")
    occurred_at = _timestamp(raw["occurred_at"], "occurred_at")
    practice_id = _string(raw, "practice_id", 64, prefix="")
    data = raw.get("data", {})
    if not isinstance(data, dict):
        raise EventError("data", "must be an object")
    return Event(event_id, event_type, occurred_at, practice_id, VALIDATORS[event_type](data), raw)  # type: ignore[arg-type]


def parse_batch(payload: Any, max_batch: int) -> list[Event]:
    """All events or an error naming the first bad one: a batch is never half-applied."""
    raws = payload if isinstance(payload, list) else [payload]
    if not raws:
        raise InvalidInput("empty_batch", "the batch holds no events")
    if len(raws) > max_batch:
        raise TooLarge("batch_too_large", f"at most {max_batch} events per request")
    events = []
    for index, raw in enumerate(raws):
        try:
            events.append(parse_event(raw))
        except EventError as exc:
            event_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
            where = f"event {index}" + (f" ({event_id!r})" if event_id else "")
            field = f" field {exc.field!r}" if exc.field else ""
            raise InvalidInput("invalid_event", f"{where}{field} {exc.message}",
                event_index=index, event_id=event_id, field=exc.field or None,
            ) from exc
    return events


# --- application -----------------------------------------------------------------------------

@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    practice_ids: frozenset[str] = frozenset()  # of the events applied: the live views refresh them
    queued: int = 0  # accepted, to be projected by the projection loop


def _chunks(items: Sequence[Any], size: int = SQL_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _keys_by_practice(keys: Iterable[tuple[str, str]]) -> Iterable[tuple[str, Sequence[str]]]:
    """(practice, up to SQL_CHUNK references) groups, for ``practice_id = ? AND reference IN (...)``.

    That form is an index search. SQLite answers the row-value form
    ``(practice_id, reference) IN (VALUES ...)`` by scanning the whole index, so every batch got
    slower as the tables grew.
    """
    grouped: dict[str, list[str]] = {}
    for practice_id, reference in keys:
        grouped.setdefault(practice_id, []).append(reference)
    for practice_id, references in grouped.items():
        for chunk in _chunks(references):
            yield practice_id, chunk


# The statements a batch reads with, built once (building the expressions and their cache key per
# practice per batch was a tenth of a batch). They run on the session's connection, as Core rows:
# they read plain columns of tables no ORM object of a batch is pending in, and the ORM's loading
# of rows cost more than the reading.
_KNOWN_EVENTS = select(IngestedEvent.id).where(any_of(IngestedEvent.id, "ids"))
_KNOWN_PRACTICES = select(Practice.id).where(any_of(Practice.id, "ids"))


class _BookingState(NamedTuple):
    """What a batch reads of a booking it touches, as a plain tuple: a SQLAlchemy row's attribute
    costs a failed class lookup and its formatted AttributeError before it finds the column."""

    id: int
    practice_id: str
    reference: str
    created_at: datetime
    details_at: datetime
    appointment_at: datetime
    email_status: str
    diary_status: str
    received_ways: int
    cancelled_at: datetime | None


_BOOKING_STATES = select(*(getattr(Booking, name) for name in _BookingState._fields)).where(
    Booking.practice_id == bindparam("practice_id"), any_of(Booking.reference, "references"))
_FACT_ROWS = select(
    BookingFact.practice_id, BookingFact.reference, BookingFact.channel, BookingFact.outcome,
    BookingFact.occurred_at, BookingFact.reason, BookingFact.recipient,
).where(BookingFact.practice_id == bindparam("practice_id"), any_of(BookingFact.reference, "references"))


def _new_events(session: Session, events: Sequence[Event]) -> tuple[list[Event], int]:
    seen: set[str] = set()
    ids = list({e.id for e in events})
    for chunk in _chunks(ids):
        seen.update(session.connection().scalars(_KNOWN_EVENTS, {"ids": list(chunk)}))
    fresh = []
    for event in events:
        if event.id not in seen:
            seen.add(event.id)
            fresh.append(event)
    return fresh, len(events) - len(fresh)


def _ensure_practices(session: Session, practice_ids: set[str]) -> None:
    """A practice may be named by a booking before its profile arrives: keep a placeholder."""
    existing = set(session.connection().scalars(_KNOWN_PRACTICES, {"ids": list(practice_ids)}))
    missing = sorted(practice_ids - existing)
    if missing:
        session.execute(insert(Practice), [
            {"id": pid, "name": pid, "name_key": name_key(pid), "timezone": "UTC", "integration_mode": "integrated",
             "booking_emails": [], "alert_emails": [], "collision_alerts": True, "connection_alerts": True,
             "profile_known": False}
            for pid in missing
        ])


FACTS = {
    "booking.cancelled": ("booking", "cancelled"),
    "email.sent": ("email", "sent"),
    "email.delivered": ("email", "delivered"),
    "email.bounced": ("email", "bounced"),
    "email.failed": ("email", "failed"),
    "diary.inserted": ("diary", "inserted"),
    "diary.failed": ("diary", "failed"),
    "sidebar.alerted": ("sidebar", "alerted"),
    "sidebar.transferred": ("sidebar", "transferred"),
    "diary.removed": ("diary", "removed"),  # taken out of the diary after a cancellation
}
CONNECTOR_KINDS = {"connector.connection_lost": "connection_lost", "connector.connection_restored": "connection_restored"}


class _Batch:
    """The rows one batch adds, gathered per table so each is written with one statement."""

    def __init__(self) -> None:
        self.facts: list[dict[str, Any]] = []
        self.integration: list[dict[str, Any]] = []
        self.alerts: list[dict[str, Any]] = []
        self.settings: list[dict[str, Any]] = []
        self.bookings: dict[tuple[str, str], Event] = {}
        self.touched: set[tuple[str, str]] = set()
        self.heartbeats: dict[str, datetime] = {}
        self.connector: dict[str, tuple[datetime, bool]] = {}
        self.closed: list[dict[str, Any]] = []

    def add(self, event: Event) -> None:
        data, pid = event.data, event.practice_id
        common = {"event_id": event.id, "practice_id": pid, "occurred_at": event.occurred_at}
        if event.type == "practice.upserted":
            self.settings.append({"event_id": event.id, "practice_id": pid, "effective_at": event.occurred_at, **data})
        elif event.type == "booking.created":
            key = (pid, data["reference"])
            current = self.bookings.get(key)
            if current is None or current.occurred_at <= event.occurred_at:
                self.bookings[key] = event
            self.touched.add(key)
        elif event.type in FACTS:
            channel, outcome = FACTS[event.type]
            self.facts.append({
                **common, "reference": data["reference"], "channel": channel, "outcome": outcome,
                "reason": data.get("reason"), "recipient": data.get("recipient"), "detail": data.get("detail"),
                "pms_appointment_id": data.get("pms_appointment_id"),
            })
            self.touched.add((pid, data["reference"]))
            if event.type == "diary.failed":
                self.integration.append({**common, "kind": "diary_failed", "reason": data["reason"],
                                         "reference": data["reference"], "detail": data.get("detail")})
        elif event.type in CONNECTOR_KINDS:
            kind = CONNECTOR_KINDS[event.type]
            self.integration.append({**common, "kind": kind, "reason": None, "reference": None,
                                     "detail": data.get("detail")})
            latest = self.connector.get(pid)
            if latest is None or latest[0] <= event.occurred_at:
                self.connector[pid] = (event.occurred_at, kind == "connection_restored")
        elif event.type == "connector.heartbeat":
            self.heartbeats[pid] = max(event.occurred_at, self.heartbeats.get(pid, event.occurred_at))
        elif event.type == "alert.sent":
            self.alerts.append({**common, **data})
        elif event.type == "practice.closed":
            self.closed.append({**common, **data})


def apply_events(session: Session, events: Sequence[Event], queue: bool = False) -> IngestResult:
    """Store a validated batch; the caller commits (or rolls back) the whole of it.

    With ``queue``, the events are only written to the ledger and the queue: the sender is answered
    at the cost of storing them, and :func:`project_queued` applies them later.
    """
    fresh, duplicates = _new_events(session, events)
    if not fresh:
        return IngestResult(0, duplicates)
    checkpoint_rarely(session)
    received_at = utcnow()
    insert_many(session, IngestedEvent.__table__, [
        {"id": e.id, "type": e.type, "practice_id": e.practice_id, "occurred_at": e.occurred_at,
         "received_at": received_at, "payload": e.raw}
        for e in fresh
    ])
    if queue:
        insert_many(session, QueuedEvent.__table__, [{"event_id": e.id} for e in fresh])
        return IngestResult(len(fresh), duplicates, queued=len(fresh))
    _project(session, fresh)
    return IngestResult(len(fresh), duplicates, frozenset(e.practice_id for e in fresh))


def _project(session: Session, events: Sequence[Event]) -> None:
    """Apply events already in the ledger: their facts, and the state those facts decide.

    A practice's events are applied by one transaction at a time (the projection loop's chunk and
    a request's small batch may name the same booking): each reads the facts the other committed.
    """
    practice_ids = {e.practice_id for e in events}
    one_writer_per_key(session, "practice", practice_ids)
    _ensure_practices(session, practice_ids)
    batch = _Batch()
    for event in events:
        batch.add(event)
    for model, rows in ((BookingFact, batch.facts), (IntegrationEvent, batch.integration),
                        (AlertEmail, batch.alerts), (PracticeSettings, batch.settings), (ClosedDay, batch.closed)):
        # One executemany per table, not the ORM's bulk insert (which splits the rows into runs
        # with the same None columns, and whose bookkeeping cost a quarter of a batch).
        insert_many(session, model.__table__, rows)
    _apply_profiles(session, batch.settings)
    _apply_connector(session, batch.connector, batch.heartbeats)
    _store_bookings(session, batch.bookings, batch.touched)
    _refresh_after_settings(session, batch.settings)
    incidents.detect_after_ingest(session, events)


# The oldest queued events with what the platform sent. On PostgreSQL a projector's claim is its
# row locks, and another projector skips them; SQLite has one writer, whose transaction begins
# with the write lock (helpdesk.core.db), so a second projector waits and then sees them gone.
_QUEUE_HEAD = (
    select(QueuedEvent.seq, IngestedEvent.payload)
    .join(IngestedEvent, IngestedEvent.id == QueuedEvent.event_id)
    .order_by(QueuedEvent.seq)
    .limit(bindparam("limit"))
    .with_for_update(of=QueuedEvent, skip_locked=True)
)
_DEQUEUE = delete(QueuedEvent).where(any_of(QueuedEvent.seq, "seqs"))
_QUEUED_RECEIVED_AT = select(IngestedEvent.received_at).join(QueuedEvent, QueuedEvent.event_id == IngestedEvent.id)
_PROJECTION_DUE = DriverStatement(select(or_(
    _QUEUED_RECEIVED_AT.order_by(QueuedEvent.seq.desc()).limit(1).scalar_subquery() <= bindparam("quiet_since"),
    _QUEUED_RECEIVED_AT.order_by(QueuedEvent.seq).limit(1).scalar_subquery() <= bindparam("waited_since"),
)))


def project_queued(session: Session, limit: int) -> IngestResult:
    """Apply up to ``limit`` of the oldest queued events and take them off the queue; the caller
    commits. An event that today's rules refuse (they were looser when it was accepted) is
    logged and left in the ledger only: it must not block the queue."""
    rows = session.connection().execute(_QUEUE_HEAD, {"limit": limit}).all()
    if not rows:
        return IngestResult(0, 0)
    session.connection().execute(_DEQUEUE, {"seqs": [seq for seq, _ in rows]})
    events = []
    for _, payload in rows:
        try:
            events.append(parse_event(payload))
        except EventError as exc:
            log.error("ingest: queued event %r is refused by today's rules (%s %s); left in the ledger only",
                      payload.get("id"), exc.field, exc.message)
    if events:
        checkpoint_rarely(session)
        _project(session, events)
    return IngestResult(len(events), 0, frozenset(e.practice_id for e in events))


def projection_due(session: Session, now: datetime, quiet_seconds: float, max_lag_seconds: float) -> bool:
    """Whether the queue should be projected now: once bulk batches stop arriving for
    ``quiet_seconds`` (bigger chunks cost less an event, and the sender is not slowed while it
    sends), or when its oldest event has waited ``max_lag_seconds`` (a steady stream is still
    projected, and slowed down by it: the queue stays bounded). The loop asks ten times a second,
    so it asks without SQLite's write lock (``first_unlocked``)."""
    row = first_unlocked(session, _PROJECTION_DUE, {"quiet_since": now - timedelta(seconds=quiet_seconds),
                                                    "waited_since": now - timedelta(seconds=max_lag_seconds)})
    return bool(row and row[0])


def _apply_profiles(session: Session, versions: list[dict[str, Any]]) -> None:
    latest: dict[str, dict[str, Any]] = {}
    for version in versions:
        current = latest.get(version["practice_id"])
        if current is None or current["effective_at"] <= version["effective_at"]:
            latest[version["practice_id"]] = version
    for pid, version in latest.items():
        practice = session.get(Practice, pid)
        assert practice is not None
        if practice.profile_effective_at is not None and practice.profile_effective_at > version["effective_at"]:
            continue  # an older profile arrived late: kept as history, not as the current one
        for name in ("name", "timezone", "integration_mode", "pms_software", "booking_emails", "alert_emails",
                     "collision_alerts", "connection_alerts", "opening_hours", "holidays_region", "digest_time"):
            setattr(practice, name, version[name])
        practice.name_key = name_key(version["name"])
        practice.profile_known = True
        practice.profile_effective_at = version["effective_at"]


def _apply_connector(session: Session, states: dict[str, tuple[datetime, bool]], beats: dict[str, datetime]) -> None:
    for pid in states.keys() | beats.keys():
        practice = session.get(Practice, pid)
        assert practice is not None
        if pid in states:
            since, online = states[pid]
            if practice.connector_state_since is None or practice.connector_state_since <= since:
                practice.connector_online, practice.connector_state_since = online, since
        if pid in beats and (practice.connector_last_heartbeat_at is None
                             or practice.connector_last_heartbeat_at < beats[pid]):
            practice.connector_last_heartbeat_at = beats[pid]
    session.flush()


def _booking_columns(event: Event) -> dict[str, Any]:
    data = event.data
    return {
        "appointment_at": data["appointment_at"],
        "practitioner": data["practitioner"],
        "appointment_type": data["appointment_type"],
        "patient_first_name": data["first_name"],
        "patient_last_name": data["last_name"],
        "patient_date_of_birth": data["date_of_birth"],
        "first_name_key": name_key(data["first_name"]),
        "last_name_key": name_key(data["last_name"]),
        "source_event_id": event.id,
        "details_at": event.occurred_at,
    }


def _booking_states(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], _BookingState]:
    states: dict[tuple[str, str], _BookingState] = {}
    make = _BookingState._make
    for practice_id, chunk in _keys_by_practice(keys):
        rows = session.connection().execute(_BOOKING_STATES, {"practice_id": practice_id, "references": list(chunk)})
        for row in rows:
            state = make(row)
            states[(state.practice_id, state.reference)] = state
    return states


def _load_facts(session: Session, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], list[diagnosis.Fact]]:
    facts: dict[tuple[str, str], list[diagnosis.Fact]] = {}
    for practice_id, chunk in _keys_by_practice(keys):
        rows = session.connection().execute(_FACT_ROWS, {"practice_id": practice_id, "references": list(chunk)})
        for pid, reference, channel, outcome, occurred_at, reason, recipient in rows:  # tuples: see _BookingState
            facts.setdefault((pid, reference), []).append(
                diagnosis.Fact(channel, outcome, occurred_at, reason=reason, recipient=recipient)
            )
    return facts


class _Projector:
    """Channel statuses of bookings from all their facts, as the bookings list stores them."""

    def __init__(self, session: Session, keys: Sequence[tuple[str, str]]) -> None:
        self.facts = _load_facts(session, keys)
        self.histories = load_settings_histories(session, {practice_id for practice_id, _ in keys})

    def statuses(self, key: tuple[str, str], created_at: datetime, appointment_at: datetime) -> dict[str, Any]:
        record = diagnosis.BookingRecord(key[1], created_at, appointment_at)
        p = diagnosis.project(record, self.facts.get(key, []), self.histories.get(key[0], []))
        return {"email_status": p.email_status, "diary_status": p.diary_status,
                "received_ways": p.received_ways, "cancelled_at": p.cancelled_at}


def _stored_statuses(row: _BookingState) -> dict[str, Any]:
    return {"email_status": row.email_status, "diary_status": row.diary_status,
            "received_ways": row.received_ways, "cancelled_at": row.cancelled_at}


def _store_bookings(session: Session, created: dict[tuple[str, str], Event], touched: set[tuple[str, str]]) -> None:
    """Insert the new bookings and amend the known ones, each with its statuses already projected.

    A repeated ``booking.created`` (same reference, new event id) amends the booking if newer; an
    older one only moves its creation time back. A fact for a booking not (yet) known is kept for
    when it arrives.
    """
    current = _booking_states(session, sorted(touched))
    keys = sorted(key for key in touched if key in current or key in created)
    if not keys:
        return
    projector = _Projector(session, keys)
    new_rows, changes = [], []
    for key in keys:
        event, row = created.get(key), current.get(key)
        if row is None:
            assert event is not None
            columns = {"practice_id": key[0], "reference": key[1], "reference_key": key[1].lower(),
                       "created_at": event.occurred_at, **_booking_columns(event)}
            new_rows.append({**columns, **projector.statuses(key, event.occurred_at, columns["appointment_at"])})
            continue
        change: dict[str, Any] = {}
        if event is not None and row.details_at <= event.occurred_at:
            change = _booking_columns(event)
        elif event is not None and event.occurred_at < row.created_at:
            change = {"created_at": event.occurred_at}
        statuses = projector.statuses(key, change.get("created_at", row.created_at),
                                      change.get("appointment_at", row.appointment_at))
        if statuses != _stored_statuses(row):
            change.update(statuses)
        if change:
            changes.append({"id": row.id, **change})
    insert_many(session, Booking.__table__, new_rows)
    if changes:
        session.execute(update(Booking), changes)


def refresh_projections(session: Session, keys: Iterable[tuple[str, str]]) -> None:
    """Recompute the stored channel statuses of these bookings from all their facts."""
    current = _booking_states(session, sorted(keys))
    if not current:
        return
    projector = _Projector(session, sorted(current))
    changes = []
    for key, row in current.items():
        statuses = projector.statuses(key, row.created_at, row.appointment_at)
        if statuses != _stored_statuses(row):
            changes.append({"id": row.id, **statuses})
    if changes:
        session.execute(update(Booking), changes)


def _refresh_after_settings(session: Session, versions: list[dict[str, Any]]) -> None:
    """Settings decide "no email configured" for bookings without email facts: re-judge those.

    Only bookings made while a new version is the one in force can change: from its effective time
    to the next version's (and, for a version older than all others, everything before it too).
    """
    for pid in {v["practice_id"] for v in versions}:
        moments = [s.effective_at for s in load_settings_history(session, pid) if s.effective_at is not None]
        spans = []
        for version in (v for v in versions if v["practice_id"] == pid):
            start = version["effective_at"]
            later = [m for m in moments if m > start]
            lower = Booking.created_at >= start if any(m < start for m in moments) else true()
            upper = Booking.created_at < min(later) if later else true()
            spans.append(and_(lower, upper))
        keys = session.execute(
            select(Booking.practice_id, Booking.reference).where(
                Booking.practice_id == pid, Booking.email_status.in_(("pending", "not_configured")), or_(*spans)
            )
        )
        refresh_projections(session, [(k.practice_id, k.reference) for k in keys])
