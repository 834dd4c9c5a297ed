"""Events at the frozen clock's "now", for walking through days."""

from __future__ import annotations

from typing import Any

from helpdesk.core.clock import utcnow
from tests.helpdesk import factories as f

WEEKDAYS = {d: [["08:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def now_iso() -> str:
    return f.iso(utcnow())


def practice(pid: str, tz: str = "Australia/Brisbane", software: str = "DentaDesk", **extra: Any) -> dict[str, Any]:
    event = f.practice_upserted(pid, name=f"Practice {pid}", timezone_name=tz, software=software,
                                booking_emails=[f"front@{pid.lower()}.test"], occurred_at=now_iso())
    event["data"].update({"opening_hours": WEEKDAYS, **extra})
    return event


def connector(kind: str, pid: str) -> dict[str, Any]:
    return f.connector_event(kind, pid, occurred_at=now_iso())


def booking(reference: str, pid: str, appointment_at: str) -> dict[str, Any]:
    return f.booking_created(reference, pid, appointment_at=appointment_at, occurred_at=now_iso())
