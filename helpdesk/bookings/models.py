"""The booking data: practices, their settings over time, and the booking facts the platform sends.

Facts are stored as they arrive (insert-only, keyed by the platform's event id); the columns
on ``Booking`` that the bookings list filters on are a projection of those facts, recomputed
whenever a fact about the booking arrives, so the order of arrival never matters.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.core.clock import utcnow
from helpdesk.core.db import Base

INTEGRATION_MODES = ("integrated", "sidebar")


class Practice(Base):
    """A clinic, keyed by the platform's own practice id; its current profile and settings."""

    __tablename__ = "practices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    integration_mode: Mapped[str] = mapped_column(String(16), default="integrated")
    pms_software: Mapped[str | None] = mapped_column(String(100))
    booking_emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    alert_emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    collision_alerts: Mapped[bool] = mapped_column(Boolean, default=True)
    connection_alerts: Mapped[bool] = mapped_column(Boolean, default=True)
    # False while we only know the practice from events that name it, before its profile arrives.
    profile_known: Mapped[bool] = mapped_column(Boolean, default=False)
    profile_effective_at: Mapped[datetime | None]
    connector_online: Mapped[bool | None] = mapped_column(Boolean)
    connector_state_since: Mapped[datetime | None]
    connector_last_heartbeat_at: Mapped[datetime | None]
    # Practice hours (helpdesk.bookings.hours): None means the default week (Mon-Fri 08:00-18:00).
    opening_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    holidays_region: Mapped[str | None] = mapped_column(String(16))  # e.g. AU-QLD, GB-SCT, NZ
    digest_time: Mapped[str | None] = mapped_column(String(5))  # "HH:MM" local; None: Config DIGEST_DEFAULT_TIME
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PracticeSettings(Base):
    """Each version of a practice's profile, so a diagnosis judges by the settings of its time."""

    __tablename__ = "practice_settings"
    __table_args__ = (Index("ix_practice_settings_practice_effective", "practice_id", "effective_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)
    practice_id: Mapped[str] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    effective_at: Mapped[datetime]
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    integration_mode: Mapped[str] = mapped_column(String(16))
    pms_software: Mapped[str | None] = mapped_column(String(100))
    booking_emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    alert_emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    collision_alerts: Mapped[bool] = mapped_column(Boolean)
    connection_alerts: Mapped[bool] = mapped_column(Boolean)
    opening_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    holidays_region: Mapped[str | None] = mapped_column(String(16))
    digest_time: Mapped[str | None] = mapped_column(String(5))


# What a text search on the bookings list compares (helpdesk.bookings.queries._text_options).
SEARCH_KEYS = ("reference_key", "last_name_key", "first_name_key")


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        UniqueConstraint("practice_id", "reference", name="uq_bookings_practice_reference"),
        # The list's walks in appointment order (all of them, or one status), with the text search's
        # keys: a search walking one of them checks the names on the index and reads no rows.
        Index("ix_bookings_practice_appointment_search", "practice_id", "appointment_at", "id", *SEARCH_KEYS),
        Index("ix_bookings_practice_created", "practice_id", "created_at", "diary_status"),
        Index("ix_bookings_practice_email_status_search", "practice_id", "email_status", "appointment_at", "id",
              *SEARCH_KEYS),
        Index("ix_bookings_practice_diary_status_search", "practice_id", "diary_status", "appointment_at", "id",
              *SEARCH_KEYS),
        Index("ix_bookings_practice_received_search", "practice_id", "received_ways", "appointment_at", "id",
              *SEARCH_KEYS),
        # Text search: each branch reads only its index (the other name and the order are in it).
        Index("ix_bookings_practice_reference_search", "practice_id", "reference_key", "appointment_at", "id"),
        Index("ix_bookings_practice_last_name_search", "practice_id", "last_name_key", "first_name_key",
              "appointment_at", "id"),
        Index("ix_bookings_practice_first_name_search", "practice_id", "first_name_key", "last_name_key",
              "appointment_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[str] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(64))
    reference_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    appointment_at: Mapped[datetime]
    practitioner: Mapped[str | None] = mapped_column(String(200))
    appointment_type: Mapped[str | None] = mapped_column(String(200))
    patient_first_name: Mapped[str] = mapped_column(String(100))
    patient_last_name: Mapped[str] = mapped_column(String(100))
    patient_date_of_birth: Mapped[date | None] = mapped_column(Date)
    first_name_key: Mapped[str] = mapped_column(String(100))
    last_name_key: Mapped[str] = mapped_column(String(100))
    cancelled_at: Mapped[datetime | None]
    # Projection of the facts, for filtering the bookings list (see helpdesk.diagnosis).
    email_status: Mapped[str] = mapped_column(String(20))
    diary_status: Mapped[str] = mapped_column(String(24))
    received_ways: Mapped[int] = mapped_column(Integer)
    # The booking.created event the details come from: a later one amends them, an older one is late.
    source_event_id: Mapped[str] = mapped_column(String(128))
    details_at: Mapped[datetime]

    practice: Mapped[Practice] = relationship(lazy="raise")


class BookingFact(Base):
    """One thing that happened to a booking on a delivery channel (or its cancellation).

    Keyed by practice and reference, not by booking row, because a fact may arrive before
    the booking it is about.
    """

    __tablename__ = "booking_facts"
    __table_args__ = (
        Index("ix_booking_facts_booking", "practice_id", "reference", "occurred_at"),
        Index("ix_booking_facts_practice_outcome", "practice_id", "channel", "outcome", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Unique through the ledger: a fact is stored in the transaction that stores its event in
    # ``ingested_events``, whose key refuses a repeat (a second unique index cost every fact).
    event_id: Mapped[str] = mapped_column(String(128))
    practice_id: Mapped[str] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))  # email | diary | sidebar | booking
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    occurred_at: Mapped[datetime]
    recipient: Mapped[str | None] = mapped_column(String(320))
    detail: Mapped[str | None] = mapped_column(Text)
    pms_appointment_id: Mapped[str | None] = mapped_column(String(128))


class IntegrationEvent(Base):
    """The practice's integration history: connector losses and restores, failed diary inserts."""

    __tablename__ = "integration_events"
    __table_args__ = (
        Index("ix_integration_events_practice_time", "practice_id", "occurred_at", "id"),
        Index("ix_integration_events_practice_kind_time", "practice_id", "kind", "occurred_at"),
        # Recent failures across practices (platform incidents: helpdesk.bookings.incidents).
        Index("ix_integration_events_kind_time", "kind", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)
    practice_id: Mapped[str] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # connection_lost | connection_restored | diary_failed
    reason: Mapped[str | None] = mapped_column(String(32))
    reference: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    detail: Mapped[str | None] = mapped_column(Text)


class AlertEmail(Base):
    """An alert email the platform sent the practice about a failed insert or a lost connection."""

    __tablename__ = "alert_emails"
    __table_args__ = (
        Index("ix_alert_emails_practice_kind_time", "practice_id", "kind", "occurred_at"),
        Index("ix_alert_emails_practice_reference", "practice_id", "reference"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)
    practice_id: Mapped[str] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(320))
    reference: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime]


class IngestedEvent(Base):
    """The idempotency ledger: every event id we accepted, with what the platform sent.

    Its key is what makes an event idempotent: a fact is stored in the same transaction, so its
    ``event_id`` needs no unique index of its own. The tables of rare events (settings, alerts,
    integration events, closed days) keep theirs, which costs nothing at their volume.
    """

    __tablename__ = "ingested_events"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    practice_id: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class QueuedEvent(Base):
    """An accepted event whose projection is still to come: a bulk batch is stored in the ledger and
    answered at once, and the projection loop (``helpdesk.bookings.projection``) applies it later.

    Kept apart from the ledger so that queuing costs one small row at the end of a b-tree, and
    projecting one deleted row, instead of an update and an index entry on every ledger row. When
    it was received is the ledger's ``received_at``.
    """

    __tablename__ = "ingest_queue"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128))


class ClosedDay(Base):
    """A one-off day the practice is closed (``practice.closed``): no incidents, no digest."""

    __tablename__ = "practice_closed_days"
    __table_args__ = (Index("ix_practice_closed_days_practice_day", "practice_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)
    practice_id: Mapped[str] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(500))
    occurred_at: Mapped[datetime]


class DigestRun(Base):
    """One practice's morning digest for one local day, decided once (sent or nothing at risk).

    The unique key is the lock between several server processes: the second one to decide a
    practice's day fails to insert and sends nothing.
    """

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("practice_id", "day", name="uq_digest_runs_practice_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[str] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    at_risk: Mapped[int] = mapped_column(Integer)
    emails: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


INCIDENT_KINDS = ("connector_offline", "connector_silent", "failed_inserts", "platform")
INCIDENT_STATES = ("open", "resolved")


class Incident(Base):
    """An outage the helpdesk noticed by itself: one practice's connector or inserts, or a platform."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_state_started", "state", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(16), default="open")
    # Set while open ("failed_inserts:P1", "platform:DentaDesk"): two detectors never open one twice.
    open_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    pms_software: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    started_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IncidentPractice(Base):
    __tablename__ = "incident_practices"
    __table_args__ = (
        UniqueConstraint("incident_id", "practice_id", name="uq_incident_practices"),
        Index("ix_incident_practices_practice", "practice_id", "incident_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    practice_id: Mapped[str] = mapped_column(ForeignKey("practices.id", ondelete="CASCADE"))
    joined_at: Mapped[datetime]
    recovered_at: Mapped[datetime | None]


class IncidentEntry(Base):
    """The incident's timeline: opened, practice added, update posted, recovered, resolved."""

    __tablename__ = "incident_entries"
    __table_args__ = (Index("ix_incident_entries_incident", "incident_id", "at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(Text)
    practice_id: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[int | None] = mapped_column(Integer)
