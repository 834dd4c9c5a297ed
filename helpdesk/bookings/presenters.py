"""The booking domain's JSON shapes: one row per booking, per integration event, per practice.

Names are masked ("J. Sm…") unless the caller may see them (``reveal``).
"""

from __future__ import annotations

from typing import Any

from helpdesk.bookings.models import Booking, IntegrationEvent, Practice


def mask_name(first: str, last: str) -> str:
    """"J. Sm…": enough for an agent to match a caller, not enough to identify a patient."""
    initial = f"{first[:1].upper()}. " if first else ""
    return f"{initial}{last[:2]}…" if len(last) > 2 else f"{initial}{last[:1]}…"


def patient_view(booking: Booking, reveal: bool) -> dict[str, Any]:
    if not reveal:
        return {"name": mask_name(booking.patient_first_name, booking.patient_last_name), "masked": True}
    return {
        "name": f"{booking.patient_first_name} {booking.patient_last_name}",
        "first_name": booking.patient_first_name,
        "last_name": booking.patient_last_name,
        "date_of_birth": booking.patient_date_of_birth.isoformat() if booking.patient_date_of_birth else None,
        "masked": False,
    }


def booking_row(booking: Booking, reveal: bool = False) -> dict[str, Any]:
    return {
        "reference": booking.reference,
        "created_at": booking.created_at.isoformat(),
        "appointment_at": booking.appointment_at.isoformat(),
        "practitioner": booking.practitioner,
        "appointment_type": booking.appointment_type,
        "patient": patient_view(booking, reveal),
        "cancelled": booking.cancelled_at is not None,
        "received_ways": booking.received_ways,
        "channels": {
            "bookings_list": "cancelled" if booking.cancelled_at else "delivered",
            "email": booking.email_status,
            "diary": booking.diary_status,
        },
    }


def integration_event_row(event: IntegrationEvent) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "reason": event.reason,
        "reference": event.reference,
        "at": event.occurred_at.isoformat(),
        "detail": event.detail,
    }


def practice_summary(practice: Practice) -> dict[str, Any]:
    return {
        "id": practice.id,
        "name": practice.name,
        "timezone": practice.timezone,
        "integration_mode": practice.integration_mode,
        "pms_software": practice.pms_software,
        "profile_known": practice.profile_known,
        "notification_settings": {
            "booking_emails": practice.booking_emails,
            "alert_emails": practice.alert_emails,
            "collision_alerts": practice.collision_alerts,
            "connection_alerts": practice.connection_alerts,
        },
    }
