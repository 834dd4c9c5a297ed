"""A small practice world for the console tests, timed relative to now (so the health window holds it)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from tests.helpdesk.factories import (
    alert_sent,
    booking_created,
    connector_event,
    diary_failed,
    diary_inserted,
    email_event,
    iso,
    practice_upserted,
)

COLLISION_DETAIL = "Slot already taken in the diary by appointment 5521"


def practice_world(practice_id: str = "P1", name: str = "Riverside Dental", ref_prefix: str = "BK",
                   now: datetime | None = None, **practice: Any) -> list[dict[str, Any]]:
    """Three bookings: a diary collision nobody was alerted about (2 of 3 ways), one that arrived
    every way, and one lost while the connector was offline (alerted); the connector is back online.
    """
    now = now or datetime.now(timezone.utc)

    def ago(hours: float) -> str:
        return iso(now - timedelta(hours=hours))

    soon = iso(now + timedelta(days=1))
    collided, fine, lost = (f"{ref_prefix}-1", f"{ref_prefix}-2", f"{ref_prefix}-3")
    pid = practice_id
    return [
        practice_upserted(pid, name=name, occurred_at=ago(24 * 10), **practice),
        booking_created(collided, pid, first_name="Jane", last_name="Smith", appointment_at=soon, occurred_at=ago(6)),
        email_event("delivered", collided, pid, occurred_at=ago(5.9)),
        diary_failed("collision", collided, pid, detail=COLLISION_DETAIL, occurred_at=ago(5.9)),
        booking_created(fine, pid, first_name="Omar", last_name="Haddad", appointment_at=soon, occurred_at=ago(5)),
        email_event("delivered", fine, pid, occurred_at=ago(4.9)),
        diary_inserted(fine, pid, occurred_at=ago(4.9)),
        connector_event("connection_lost", pid, occurred_at=ago(3)),
        alert_sent("connection_lost", pid, recipient="manager@riverside.test", occurred_at=ago(2.9)),
        booking_created(lost, pid, first_name="Li", last_name="Wong", appointment_at=soon, occurred_at=ago(2.5)),
        email_event("delivered", lost, pid, occurred_at=ago(2.4)),
        diary_failed("connection_lost", lost, pid, occurred_at=ago(2.4)),
        connector_event("connection_restored", pid, occurred_at=ago(2)),
        connector_event("heartbeat", pid, occurred_at=ago(0.01)),
    ]
