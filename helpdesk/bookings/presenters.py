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


# Failed inserts the platform never sends an alert email about: nobody hears of them unless support tells them.
UNALERTED_FAILURES = {
    "diary_patient_match": "the patient cannot be matched in the practice software",
    "diary_rejected": "the practice software rejects an appointment",
}


def alert_verdict(diagnosis: dict[str, Any]) -> dict[str, str]:
    """Who was (not) alerted about this booking and why, as a badge and a sentence.

    "No alert was needed" is said only when that is true: the booking reached the diary, or the
    failure was told to the practice by the alerts listed beside it.
    """
    causes = diagnosis["causes"]
    if "alert_not_sent" in causes:
        return {"label": "Missing", "tone": "bad",
                "text": "Nobody was alerted: no alert email on record, although the practice's settings allow "
                        "it, so the practice was never told about the failed insert."}
    if "alerts_disabled" in causes:
        return {"label": "Turned off", "tone": "warn",
                "text": "Nobody was alerted: the practice has turned this kind of alert email off, or set no "
                        "address for it."}
    unalerted = next((UNALERTED_FAILURES[c] for c in causes if c in UNALERTED_FAILURES), None)
    if unalerted is not None:
        return {"label": "Not told", "tone": "bad",
                "text": f"Nobody was alerted: the platform sends no alert email when {unalerted}. The practice "
                        "should have been told that this booking is not in its diary: tell them."}
    if diagnosis["practice_alerted"]:
        return {"label": "", "tone": "ok", "text": ""}
    if "diary_pending" in causes:
        return {"label": "Not yet", "tone": "muted",
                "text": "Nobody has been alerted yet: the diary insert has not reported back, and an alert "
                        "goes out only when an insert fails."}
    if "sidebar_transfer_pending" in causes:
        return {"label": "In sidebar", "tone": "warn",
                "text": "The practice's staff were alerted in the sidebar of their practice software; nobody "
                        "has transferred the booking to the diary yet."}
    return {"label": "", "tone": "muted", "text": "No alert was needed: the booking reached the diary."}
