"""Bookings at risk: the day's appointments that are not safely in the practice's diary.

A booking is at risk on its appointment day when its insert failed (any reason), is still
pending, waits in the sidebar to be transferred by hand, or when the patient cancelled after it
reached the diary and no ``diary.removed`` is on record (until then the slot is still taken and
staff may wait for a patient who is not coming). The rules (``causes_for``, ``actions``) are pure;
``at_risk`` runs one index range scan over the practice's appointments of that local day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from helpdesk.bookings import diagnosis
from helpdesk.bookings.hours import day_bounds, zone
from helpdesk.bookings.models import Booking, BookingFact, Practice
from helpdesk.bookings.presenters import patient_view

CANCELLED_IN_DIARY = "cancelled_in_diary"
IN_DIARY = frozenset({"inserted", "sidebar_transferred"})
CAUSES = (*(f"diary_{reason}" for reason in diagnosis.DIARY_FAILURES), "diary_pending",
          "sidebar_transfer_pending", CANCELLED_IN_DIARY)
MISSING_FROM_DIARY = frozenset({*(f"diary_{reason}" for reason in diagnosis.DIARY_FAILURES), "diary_pending"})
PHRASES = {**diagnosis.CAUSE_PHRASES,
           CANCELLED_IN_DIARY: "cancelled by the patient but still in the diary (no removal on record)"}


@dataclass(frozen=True)
class Candidate:
    """What the rules need of one booking (a projection of its row)."""

    reference: str
    appointment_at: datetime
    diary_status: str
    cancelled: bool
    removed_from_diary: bool = False


def causes_for(candidate: Candidate) -> list[str]:
    """The at-risk causes of one booking; empty when it is safely in the diary (or safely gone)."""
    status = candidate.diary_status
    if candidate.cancelled:
        if status in IN_DIARY and not candidate.removed_from_diary:
            return [CANCELLED_IN_DIARY]
        return []  # cancelled before it reached the diary, or already taken out: nothing to do
    if status in diagnosis.DIARY_FAILURES:
        return [f"diary_{status}"]
    if status == "pending":
        return ["diary_pending"]
    if status == "sidebar_alerted":
        return ["sidebar_transfer_pending"]
    return []


REMOVE_FROM_DIARY = {"code": "remove_from_diary",
                     "text": "The patient cancelled this booking but the appointment is still in the diary: remove it "
                             "so the slot can be offered again."}


@lru_cache(maxsize=256)
def _steps_after_accommodating(causes: tuple[str, ...], connector_offline: bool) -> tuple[dict[str, str], ...]:
    """``diagnosis.actions_for`` for these causes, less its first, time-specific step (same for every row)."""
    moment = datetime(2000, 1, 1, tzinfo=UTC)
    case = diagnosis.Case(booking=diagnosis.BookingRecord("", moment, moment), facts=(), settings_history=(),
                          now=moment)
    channels = {"diary": {"connector_offline_at_booking": connector_offline, "detail": None},
                "email": {"recipients": []}}
    steps = diagnosis.actions_for(case, None, channels, causes, cancelled=False)
    return tuple(step for step in steps if step["code"] != "accommodate_patient")


def actions(candidate: Candidate, causes: Sequence[str], now: datetime, local_appointment: datetime,
            connector_offline: bool) -> list[dict[str, str]]:
    """What to do, in the diagnosis's own words (``diagnosis.actions_for``)."""
    if CANCELLED_IN_DIARY in causes:
        return [dict(REMOVE_FROM_DIARY)]
    steps = [dict(step) for step in _steps_after_accommodating(tuple(causes), connector_offline)]
    if any(c in causes for c in MISSING_FROM_DIARY):
        steps.insert(0, diagnosis.accommodate_action(local_appointment, candidate.appointment_at >= now))
    return steps


def _removed(session: Session, practice_id: str, references: Sequence[str]) -> set[str]:
    if not references:
        return set()
    return set(session.scalars(
        select(BookingFact.reference).where(
            BookingFact.practice_id == practice_id, BookingFact.reference.in_(references),
            BookingFact.channel == "diary", BookingFact.outcome == "removed",
        )
    ))


_COLUMNS = (Booking.practice_id, Booking.reference, Booking.appointment_at, Booking.practitioner,
            Booking.appointment_type, Booking.patient_first_name, Booking.patient_last_name,
            Booking.patient_date_of_birth, Booking.cancelled_at, Booking.diary_status)
_NOT_SAFE = or_(Booking.diary_status.notin_(tuple(IN_DIARY)), Booking.cancelled_at.is_not(None))


def _build(practice: Practice, rows: Sequence[Any], removed: set[str], now: datetime,
           reveal: bool) -> list[dict[str, Any]]:
    tz = zone(practice.timezone or "UTC")
    offline = practice.integration_mode == "integrated" and practice.connector_online is False
    out = []
    for booking in rows:
        candidate = Candidate(booking.reference, booking.appointment_at, booking.diary_status,
                              booking.cancelled_at is not None, booking.reference in removed)
        causes = causes_for(candidate)
        if not causes:
            continue
        local = booking.appointment_at.astimezone(tz)
        out.append({
            "reference": booking.reference,
            "appointment_at": booking.appointment_at.isoformat(),
            "appointment_local": local.isoformat(),
            "appointment_time": f"{local:%H:%M}",
            "practitioner": booking.practitioner,
            "appointment_type": booking.appointment_type,
            "patient": patient_view(booking, reveal),
            "cancelled": booking.cancelled_at is not None,
            "diary_status": booking.diary_status,
            "causes": causes,
            "summary": "; ".join(PHRASES[c] for c in causes),
            "actions": actions(candidate, causes, now, local, offline),
        })
    return out


def _cancelled_in_diary(rows: Sequence[Any]) -> list[str]:
    return [b.reference for b in rows if b.cancelled_at is not None and b.diary_status in IN_DIARY]


def at_risk_rows(session: Session, practice: Practice, day: date, now: datetime,
                 reveal: bool = False) -> list[dict[str, Any]]:
    """The practice's bookings at risk on its local ``day``, earliest appointment first."""
    start, end = day_bounds(day, zone(practice.timezone or "UTC"))
    # Columns, not ORM objects: a busy day holds hundreds of rows and identity-map loading dominated.
    rows = list(session.execute(
        select(*_COLUMNS).where(Booking.practice_id == practice.id, Booking.appointment_at >= start,
                                Booking.appointment_at < end, _NOT_SAFE)
        .order_by(Booking.appointment_at, Booking.id)
    ))
    return _build(practice, rows, _removed(session, practice.id, _cancelled_in_diary(rows)), now, reveal)


def at_risk_many(session: Session, wanted: Sequence[tuple[Practice, Sequence[date]]], now: datetime,
                 reveal: bool = False) -> dict[tuple[str, date], list[dict[str, Any]]]:
    """``at_risk_rows`` for many practices and days in a few queries (the digest over thousands)."""
    spans = {p.id: [day_bounds(d, zone(p.timezone or "UTC")) for d in days] for p, days in wanted}
    found: dict[str, list[Any]] = {}
    ids = [p.id for p, days in wanted if days]
    for first in range(0, len(ids), 500):
        chunk = ids[first:first + 500]
        low = min(s for pid in chunk for s, _ in spans[pid])
        high = max(e for pid in chunk for _, e in spans[pid])
        for row in session.execute(
            select(*_COLUMNS).where(Booking.practice_id.in_(chunk), Booking.appointment_at >= low,
                                    Booking.appointment_at < high, _NOT_SAFE)
            .order_by(Booking.practice_id, Booking.appointment_at, Booking.id)
        ):
            found.setdefault(row.practice_id, []).append(row)
    out: dict[tuple[str, date], list[dict[str, Any]]] = {}
    for practice, days in wanted:
        rows = found.get(practice.id, [])
        cancelled = _cancelled_in_diary(rows)
        removed = _removed(session, practice.id, cancelled) if cancelled else set()
        for day, (start, end) in zip(days, spans[practice.id], strict=True):
            out[(practice.id, day)] = _build(practice, [r for r in rows if start <= r.appointment_at < end],
                                             removed, now, reveal)
    return out


def at_risk_payload(session: Session, practice: Practice, day: date, now: datetime,
                    reveal: bool = False) -> dict[str, Any]:
    bookings = at_risk_rows(session, practice, day, now, reveal)
    return {"practice_id": practice.id, "date": day.isoformat(), "timezone": practice.timezone,
            "count": len(bookings), "bookings": bookings}


def practice_today(practice: Practice, now: datetime) -> date:
    return now.astimezone(zone(practice.timezone or "UTC")).date()
