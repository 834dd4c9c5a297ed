"""Small factories for ingest events (the DESIGN.md contract) and signed ingest requests.

``T0`` is two days before the run, at 09:00 UTC: every fixture is relative to the clock, so the
suite reads the same whatever today's date is.
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from typing import Any

from helpdesk.core.clock import unix_now, utcnow
from helpdesk.core.signing import sign

_ids = itertools.count(1)
T0 = (utcnow() - timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
INGEST_PATH = "/api/v1/ingest/events"


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def at(minutes: float) -> str:
    """``T0`` plus some minutes, as the platform writes it."""
    return iso(T0 + timedelta(minutes=minutes))


def event(event_type: str, practice_id: str, data: dict[str, Any] | None = None, *,
          occurred_at: str | None = None, event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt-{next(_ids)}",
        "type": event_type,
        "occurred_at": occurred_at or at(0),
        "practice_id": practice_id,
        "data": data or {},
    }


def practice_upserted(practice_id: str = "P1", *, name: str = "Riverside Dental", mode: str = "integrated",
                      software: str | None = "DentaDesk", booking_emails: list[str] | None = None,
                      alert_emails: list[str] | None = None, collision_alerts: bool = True,
                      connection_alerts: bool = True, timezone_name: str = "Europe/London", **kw: Any) -> dict[str, Any]:
    return event("practice.upserted", practice_id, {
        "name": name,
        "timezone": timezone_name,
        "integration": {"mode": mode, "software": software},
        "notification_settings": {
            "booking_emails": ["front@riverside.test"] if booking_emails is None else booking_emails,
            "alert_emails": ["manager@riverside.test"] if alert_emails is None else alert_emails,
            "collision_alerts": collision_alerts,
            "connection_alerts": connection_alerts,
        },
    }, **kw)


def booking_created(reference: str = "BK-1", practice_id: str = "P1", *, first_name: str = "Jane",
                    last_name: str = "Smith", appointment_at: str | None = None, **kw: Any) -> dict[str, Any]:
    return event("booking.created", practice_id, {
        "reference": reference,
        "appointment_at": appointment_at or at(60 * 24 * 3),
        "practitioner": "Dr Okafor",
        "appointment_type": "Check-up",
        "patient": {"first_name": first_name, "last_name": last_name, "date_of_birth": "1980-04-02"},
    }, **kw)


def booking_event(event_type: str, reference: str = "BK-1", practice_id: str = "P1", **data_and_kw: Any) -> dict[str, Any]:
    """Any event whose data names a booking: ``email.*``, ``diary.*``, ``sidebar.*``, ``booking.cancelled``."""
    kw = {k: data_and_kw.pop(k) for k in ("occurred_at", "event_id") if k in data_and_kw}
    if event_type.startswith("email.") and "recipient" not in data_and_kw:
        data_and_kw["recipient"] = "front@riverside.test"
    return event(event_type, practice_id, {"reference": reference, **data_and_kw}, **kw)


def email_event(outcome: str, reference: str = "BK-1", practice_id: str = "P1", **data_and_kw: Any) -> dict[str, Any]:
    """``outcome``: sent, delivered, bounced or failed."""
    return booking_event(f"email.{outcome}", reference, practice_id, **data_and_kw)


def diary_inserted(reference: str = "BK-1", practice_id: str = "P1", *, pms_appointment_id: str = "APT-1",
                   **kw: Any) -> dict[str, Any]:
    return booking_event("diary.inserted", reference, practice_id, pms_appointment_id=pms_appointment_id, **kw)


def diary_failed(reason: str, reference: str = "BK-1", practice_id: str = "P1", **data_and_kw: Any) -> dict[str, Any]:
    """``reason``: collision, connection_lost, patient_match or rejected; pass ``detail=`` to explain."""
    return booking_event("diary.failed", reference, practice_id, reason=reason, **data_and_kw)


def sidebar_event(outcome: str, reference: str = "BK-1", practice_id: str = "P1", **kw: Any) -> dict[str, Any]:
    """``outcome``: alerted or transferred."""
    return booking_event(f"sidebar.{outcome}", reference, practice_id, **kw)


def connector_event(kind: str, practice_id: str = "P1", **kw: Any) -> dict[str, Any]:
    """``kind``: heartbeat, connection_lost or connection_restored."""
    return event(f"connector.{kind}", practice_id, {}, **kw)


def alert_sent(kind: str, practice_id: str = "P1", *, reference: str | None = None,
               recipient: str = "manager@riverside.test", **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": kind, "recipient": recipient}
    if reference:
        data["reference"] = reference
    return event("alert.sent", practice_id, data, **kw)


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(unix_now()) if timestamp is None else timestamp)
    return {
        "Content-Type": "application/json",
        "X-Helpdesk-Timestamp": stamp,
        "X-Helpdesk-Signature": sign(secret, stamp, body),
    }


def signed_post(client: Any, events: Any, secret: str, **kw: Any) -> Any:
    """POST events to the ingest API with a valid signature.

    ``client`` is a Flask test client, or a live server's base URL (then sent with ``requests``).
    """
    body = events if isinstance(events, bytes) else json.dumps(events).encode()
    headers = signed_headers(secret, body, **kw)
    if isinstance(client, str):
        import requests

        return requests.post(client.rstrip("/") + INGEST_PATH, data=body, headers=headers, timeout=30)
    return client.post(INGEST_PATH, data=body, headers=headers)


def day(days_after_t0: int) -> str:
    """The date ``T0`` plus some days, as YYYY-MM-DD."""
    return (T0 + timedelta(days=days_after_t0)).date().isoformat()
