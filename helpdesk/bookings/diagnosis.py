"""Why did a booking (not) reach the practice? Pure rules from a booking's facts to a verdict.

Nothing here touches the database: ``helpdesk.queries`` gathers a :class:`Case`, these rules
judge it. The same rules project the channel statuses stored on each booking for the list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

EMAIL_RECEIVED = frozenset({"delivered", "sent"})
DIARY_RECEIVED = frozenset({"inserted", "sidebar_alerted", "sidebar_transferred"})
DIARY_FAILURES = ("collision", "connection_lost", "patient_match", "rejected")
EMAIL_FAILURES = ("bounced", "failed")
ALERT_KINDS = ("collision", "connection_lost")
CAUSE_CODES = (
    "email_not_configured",
    "email_bounced",
    "email_failed",
    "diary_collision",
    "diary_connection_lost",
    "diary_patient_match",
    "diary_rejected",
    "diary_pending",
    "sidebar_transfer_pending",
    "alerts_disabled",
    "alert_not_sent",
)
# Later facts win; at the same instant, the one with the higher rank wins (a bounce outranks
# the delivery it contradicts, an insert outranks a failure it retried).
_EMAIL_RANK = {"sent": 0, "delivered": 1, "failed": 2, "bounced": 3}
# A connection-lost alert with no recorded outage is matched within this window of the failure.
ALERT_WINDOW_BEFORE = timedelta(hours=1)
ALERT_WINDOW_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class Settings:
    effective_at: datetime | None
    integration_mode: str
    pms_software: str | None
    booking_emails: tuple[str, ...]
    alert_emails: tuple[str, ...]
    collision_alerts: bool
    connection_alerts: bool

    def alerts_enabled(self, kind: str) -> bool:
        return self.collision_alerts if kind == "collision" else self.connection_alerts

    @property
    def alert_recipients(self) -> tuple[str, ...]:
        """The platform falls back to the booking addresses when no alert address is set."""
        return self.alert_emails or self.booking_emails


@dataclass(frozen=True)
class Fact:
    channel: str  # email | diary | sidebar | booking
    outcome: str
    occurred_at: datetime
    reason: str | None = None
    recipient: str | None = None
    detail: str | None = None
    pms_appointment_id: str | None = None


@dataclass(frozen=True)
class BookingRecord:
    reference: str
    created_at: datetime
    appointment_at: datetime
    practitioner: str | None = None
    appointment_type: str | None = None
    patient_first_name: str = ""
    patient_last_name: str = ""
    patient_date_of_birth: date | None = None


@dataclass(frozen=True)
class Outage:
    started_at: datetime
    ended_at: datetime | None

    def covers(self, moment: datetime) -> bool:
        return self.started_at <= moment and (self.ended_at is None or moment <= self.ended_at)


@dataclass(frozen=True)
class Alert:
    kind: str
    recipient: str
    occurred_at: datetime
    reference: str | None = None


@dataclass(frozen=True)
class Case:
    """Everything the rules need about one booking, as of ``now``."""

    booking: BookingRecord
    facts: Sequence[Fact]
    settings_history: Sequence[Settings]  # sorted by effective_at
    now: datetime
    outages: Sequence[Outage] = ()
    alerts: Sequence[Alert] = ()
    timezone: str = "UTC"  # the practice's, for the times written in the actions


@dataclass(frozen=True)
class Projection:
    """What the bookings list stores and filters on."""

    email_status: str
    diary_status: str
    received_ways: int
    cancelled_at: datetime | None


@dataclass
class _Verdict:
    causes: list[str] = field(default_factory=list)
    alerted: list[Alert] = field(default_factory=list)

    def add(self, cause: str) -> None:
        if cause not in self.causes:
            self.causes.append(cause)


def settings_at(history: Sequence[Settings], moment: datetime) -> Settings | None:
    """The settings in force at ``moment``; before the first version we know, the first one."""
    current = None
    for version in history:
        if version.effective_at is None or version.effective_at <= moment:
            current = version
        else:
            break
    return current if current is not None else (history[0] if history else None)


def _latest(facts: Iterable[Fact], rank: dict[str, int] | None = None) -> Fact | None:
    ordered = sorted(facts, key=lambda f: (f.occurred_at, (rank or {}).get(f.outcome, 0)))
    return ordered[-1] if ordered else None


def email_outcomes(facts: Sequence[Fact]) -> dict[str, Fact]:
    """The latest outcome per recipient."""
    by_recipient: dict[str, list[Fact]] = {}
    for fact in facts:
        if fact.channel == "email":
            by_recipient.setdefault((fact.recipient or "").lower(), []).append(fact)
    return {recipient: _latest(rows, _EMAIL_RANK) for recipient, rows in by_recipient.items()}  # type: ignore[misc]


def email_status(facts: Sequence[Fact], settings: Settings | None) -> str:
    outcomes = {fact.outcome for fact in email_outcomes(facts).values()}
    for status in ("delivered", "sent", "bounced", "failed"):
        if status in outcomes:
            return status
    if settings is not None and not settings.booking_emails:
        return "not_configured"
    return "pending"


def diary_fact(facts: Sequence[Fact]) -> Fact | None:
    """The fact that decides the diary channel: getting there beats any failure on the way."""
    diary = [f for f in facts if f.channel in ("diary", "sidebar")]
    for wanted in (("diary", "inserted"), ("sidebar", "transferred"), ("sidebar", "alerted")):
        matching = [f for f in diary if (f.channel, f.outcome) == wanted]
        if matching:
            return _latest(matching)
    return _latest(f for f in diary if f.outcome == "failed")


def diary_status(facts: Sequence[Fact]) -> str:
    decisive = diary_fact(facts)
    if decisive is None:
        return "pending"
    if decisive.channel == "sidebar":
        return f"sidebar_{decisive.outcome}"
    return "inserted" if decisive.outcome == "inserted" else (decisive.reason or "rejected")


def cancelled_at(facts: Sequence[Fact]) -> datetime | None:
    cancels = [f.occurred_at for f in facts if f.channel == "booking" and f.outcome == "cancelled"]
    return min(cancels) if cancels else None


def project(booking: BookingRecord, facts: Sequence[Fact], history: Sequence[Settings]) -> Projection:
    email = email_status(facts, settings_at(history, booking.created_at))
    diary = diary_status(facts)
    ways = 1 + (email in EMAIL_RECEIVED) + (diary in DIARY_RECEIVED)
    return Projection(email, diary, ways, cancelled_at(facts))


def _outage_covering(outages: Sequence[Outage], *moments: datetime) -> Outage | None:
    for moment in moments:
        for outage in outages:
            if outage.covers(moment):
                return outage
    return None


def _alerts_for_failure(case: Case, failure: Fact, now: datetime) -> list[Alert]:
    reference = case.booking.reference
    if failure.reason == "collision":
        return [a for a in case.alerts if a.kind == "collision" and a.reference == reference]
    outage = _outage_covering(case.outages, failure.occurred_at, case.booking.created_at)
    if outage is not None:
        start, end = outage.started_at, outage.ended_at or now
    else:
        start, end = failure.occurred_at - ALERT_WINDOW_BEFORE, failure.occurred_at + ALERT_WINDOW_AFTER
    return [
        a for a in case.alerts
        if a.kind == "connection_lost" and (a.reference == reference or start <= a.occurred_at <= end)
    ]


def _judge_alerts(case: Case, verdict: _Verdict) -> None:
    """Was the practice told about each failed insert it should have been told about?"""
    failures = [f for f in case.facts if f.channel == "diary" and f.outcome == "failed" and f.reason in ALERT_KINDS]
    for failure in sorted(failures, key=lambda f: f.occurred_at):
        alerts = _alerts_for_failure(case, failure, case.now)
        verdict.alerted.extend(a for a in alerts if a not in verdict.alerted)
        settings = settings_at(case.settings_history, failure.occurred_at)
        if alerts:
            continue
        if settings is not None and (not settings.alerts_enabled(failure.reason or "") or not settings.alert_recipients):
            verdict.add("alerts_disabled")
        else:
            verdict.add("alert_not_sent")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _fact_dict(fact: Fact) -> dict[str, Any]:
    row: dict[str, Any] = {"channel": fact.channel, "outcome": fact.outcome, "at": _iso(fact.occurred_at)}
    for name in ("reason", "recipient", "detail", "pms_appointment_id"):
        if getattr(fact, name) is not None:
            row[name] = getattr(fact, name)
    return row


def _email_channel(case: Case, settings: Settings | None, status: str) -> dict[str, Any]:
    outcomes = email_outcomes(case.facts)
    return {
        "status": status,
        "received": status in EMAIL_RECEIVED,
        "configured_recipients": list(settings.booking_emails) if settings else None,
        "recipients": [
            {"address": f.recipient, "status": f.outcome, "at": _iso(f.occurred_at), "detail": f.detail}
            for f in sorted(outcomes.values(), key=lambda f: f.recipient or "")
        ],
        "history": [_fact_dict(f) for f in sorted(case.facts, key=lambda f: f.occurred_at) if f.channel == "email"],
    }


def _diary_channel(case: Case, settings: Settings | None, status: str) -> dict[str, Any]:
    decisive = diary_fact(case.facts)
    outage = _outage_covering(case.outages, case.booking.created_at)
    mode = "sidebar" if decisive is not None and decisive.channel == "sidebar" else None
    return {
        "status": status,
        "received": status in DIARY_RECEIVED,
        "mode": mode or (settings.integration_mode if settings else "integrated"),
        "software": settings.pms_software if settings else None,
        "at": _iso(decisive.occurred_at) if decisive else None,
        "reason": decisive.reason if decisive else None,
        "detail": decisive.detail if decisive else None,
        "pms_appointment_id": decisive.pms_appointment_id if decisive else None,
        "connector_offline_at_booking": outage is not None,
        "connector_offline_since": _iso(outage.started_at) if outage else None,
        "connector_back_at": _iso(outage.ended_at) if outage else None,
        "history": [
            _fact_dict(f) for f in sorted(case.facts, key=lambda f: f.occurred_at) if f.channel in ("diary", "sidebar")
        ],
    }


def diagnose(case: Case) -> dict[str, Any]:
    """The verdict for one booking, in the shape of the public diagnosis contract."""
    booking = case.booking
    settings = settings_at(case.settings_history, booking.created_at)
    projection = project(booking, case.facts, case.settings_history)
    verdict = _Verdict()
    if projection.email_status in ("bounced", "failed", "not_configured"):
        verdict.add({"bounced": "email_bounced", "failed": "email_failed"}.get(projection.email_status, "email_not_configured"))
    diary = projection.diary_status
    if diary in DIARY_FAILURES:
        verdict.add(f"diary_{diary}")
        _judge_alerts(case, verdict)
    elif diary == "pending":
        verdict.add("diary_pending")
    elif diary == "sidebar_alerted":
        verdict.add("sidebar_transfer_pending")
    email = _email_channel(case, settings, projection.email_status)
    diary_channel = _diary_channel(case, settings, diary)
    cancelled = projection.cancelled_at
    channels = {
        "bookings_list": {
            "status": "cancelled" if cancelled else "delivered",
            "received": True,
            "at": _iso(booking.created_at),
            "cancelled_at": _iso(cancelled),
        },
        "email": email,
        "diary": diary_channel,
    }
    return {
        "reference": booking.reference,
        "created_at": _iso(booking.created_at),
        "appointment_at": _iso(booking.appointment_at),
        "practitioner": booking.practitioner,
        "appointment_type": booking.appointment_type,
        "cancelled": cancelled is not None,
        "received_ways": projection.received_ways,
        "summary": summarize(projection.received_ways, channels, verdict.causes),
        "channels": channels,
        "causes": verdict.causes,
        "practice_alerted": [
            {"kind": a.kind, "recipient": a.recipient, "at": _iso(a.occurred_at), "reference": a.reference}
            for a in sorted(verdict.alerted, key=lambda a: a.occurred_at)
        ],
        "actions": actions_for(case, settings, channels, verdict.causes, cancelled is not None),
        "articles": [{"key": cause} for cause in verdict.causes],
    }


CHANNEL_NAMES = {"bookings_list": "the bookings list", "email": "email", "diary": "the diary"}
CAUSE_PHRASES = {
    "email_not_configured": "no booking email address is set",
    "email_bounced": "the notification email bounced",
    "email_failed": "the notification email could not be sent",
    "diary_collision": "booking collision: the slot was already taken in the diary",
    "diary_connection_lost": "the connector had lost its connection to the practice server",
    "diary_patient_match": "the patient could not be matched in the practice software",
    "diary_rejected": "the practice software rejected the appointment",
    "diary_pending": "not in the diary yet",
    "sidebar_transfer_pending": "waiting in the sidebar to be transferred by hand",
    "alerts_disabled": "the practice has turned off this kind of alert email",
    "alert_not_sent": "no alert email is on record although the settings allow it",
}


# A booking waiting in the sidebar reached the practice's staff, not (yet) its diary.
RECEIVED_AS = {"sidebar_alerted": "a sidebar alert"}


def summarize(ways: int, channels: dict[str, Any], causes: Sequence[str]) -> str:
    got = [RECEIVED_AS.get(channel["status"], CHANNEL_NAMES[name]) for name, channel in channels.items()
           if channel["received"]]
    missed = [CHANNEL_NAMES[name] for name, channel in channels.items() if not channel["received"]]
    text = f"Received {ways} of 3 ways: {_join(got)}"
    if missed:
        text += f"; not by {_join(missed)}"
    if causes:
        text += f" ({'; '.join(CAUSE_PHRASES[c] for c in causes)})"
    return text + "."


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def accommodate_action(local_appointment: datetime, upcoming: bool) -> dict[str, str]:
    """The first step for a booking missing from the diary (``local_appointment`` in the practice's zone)."""
    when = "is coming" if upcoming else "was booked"
    return {"code": "accommodate_patient",
            "text": f"The patient {when} for {local_appointment:%d %b %Y %H:%M} {local_appointment.tzname()} and the "
                    "booking is not in the diary: accommodate them and enter the booking by hand from the bookings list."}


def actions_for(
    case: Case, settings: Settings | None, channels: dict[str, Any], causes: Sequence[str], cancelled: bool
) -> list[dict[str, str]]:
    """Plain next steps, most urgent first."""
    booking = case.booking
    upcoming = booking.appointment_at >= case.now
    diary = channels["diary"]
    actions: list[dict[str, str]] = []

    def add(code: str, text: str) -> None:
        actions.append({"code": code, "text": text})

    missing_from_diary = any(c in causes for c in ("diary_collision", "diary_connection_lost",
                                                      "diary_patient_match", "diary_rejected", "diary_pending"))
    if cancelled:
        add("none_cancelled", "The patient cancelled this booking; nothing needs adding to the diary.")
    elif missing_from_diary:
        actions.append(accommodate_action(booking.appointment_at.astimezone(ZoneInfo(case.timezone)), upcoming))
    if "diary_collision" in causes:
        add("resolve_collision", "The slot was already taken in the diary: move one of the two appointments or "
            "contact the patient to rebook.")
    if "diary_connection_lost" in causes or ("diary_pending" in causes and diary["connector_offline_at_booking"]):
        add("restore_connector", "Check that the practice server is on and the connector is running; bookings "
            "made while it was offline must be transferred by hand if they do not arrive once it reconnects.")
    elif "diary_pending" in causes:
        add("wait_for_insert", "The diary insert has not reported back yet; if it is still pending in 15 minutes, "
            "transfer the booking by hand and escalate.")
    if "diary_patient_match" in causes:
        add("fix_patient_record", "Check the patient's record in the practice software (duplicate or mismatched "
            "details), then enter the booking by hand.")
    if "diary_rejected" in causes:
        detail = f" ({diary['detail']})" if diary.get("detail") else ""
        add("enter_by_hand", f"The practice software refused the appointment{detail}: enter it by hand; escalate "
            "if it keeps happening.")
    if "sidebar_transfer_pending" in causes and not cancelled:
        add("transfer_by_hand", "Transfer the booking from the sidebar alert into the diary by hand.")
    if "email_not_configured" in causes:
        add("set_booking_email", "Add a booking notification email address in the practice's notification settings.")
    if "email_bounced" in causes:
        bounced = [r["address"] for r in channels["email"]["recipients"] if r["status"] == "bounced"]
        add("fix_booking_email", f"Correct or replace the bouncing address {_join(bounced) if bounced else ''} in the "
            "notification settings.")
    if "email_failed" in causes:
        add("check_email_delivery", "The notification email could not be sent; check the address and escalate if "
            "other practices are affected.")
    if "alerts_disabled" in causes:
        add("turn_alerts_on", "Turn collision and lost-connection alert emails on (with an alert address) so the "
            "practice hears about failed inserts.")
    if "alert_not_sent" in causes:
        add("escalate", "Escalate to engineering: an insert failed and no alert email is on record although the "
            "settings allow it.")
    return actions
