"""Read paths for the panel: the Home suggestions (from the practice's current state and what the
portal passed) and "Check a booking", in the practice's own words.

Everything here is scoped to the practice named inside the caller's widget token.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from helpdesk.bookings import queries
from helpdesk.bookings.models import Practice
from helpdesk.widget.strings import STRINGS, t
from kb import queries as kb_queries

RECENT_COLLISION_DAYS = 7
CHECK_MATCHES = 10
REFERENCE_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,63}$")

# The diagnosis is written for agents ("Received 2 of 3 ways: ..."); the practice reads it as
# "You received this booking 2 of 3 ways: ..." (kb/content/check-a-booking-yourself.md quotes it).
_PRACTICE_WORDING: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Received (\d) of 3 ways"), r"You received this booking \1 of 3 ways"),
    (re.compile(r"\bthe practice has\b"), "you have"),
    (re.compile(r"\bso the practice hears\b"), "so you hear"),
    (re.compile(r"\bthe practice\b"), "your practice"),
    (re.compile(r"\bthe settings allow\b"), "your settings allow"),
    (re.compile(r"^Escalate to engineering:"), "Contact us, this needs our engineers:"),
)


def in_practice_words(text: str) -> str:
    for pattern, replacement in _PRACTICE_WORDING:
        text = pattern.sub(replacement, text)
    return text


def local_time(moment: str | datetime | None, tz: ZoneInfo, now: datetime) -> str:
    """``14:05 today``, ``09:30 yesterday`` or ``3 Mar 2026 09:30``, in the practice's time zone."""
    if moment is None:
        return ""
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    local, today = when.astimezone(tz), now.astimezone(tz).date()
    clock = local.strftime("%H:%M")
    if local.date() == today:
        return f"{clock} today"
    if local.date() == today - timedelta(days=1):
        return f"{clock} yesterday"
    return f"{local.day} {local.strftime('%b %Y')} {clock}"


def _article(session: Session, key: str) -> dict[str, Any] | None:
    found = kb_queries.articles_for_keys(session, [key])
    return found[0] if found and "id" in found[0] else None


def banners(session: Session, practice: Practice, now: datetime, silent_after: timedelta) -> list[dict[str, Any]]:
    """What is wrong at the practice right now, most urgent first, each with the article that helps."""
    tz = ZoneInfo(practice.timezone)
    health = queries.health(session, practice, now, RECENT_COLLISION_DAYS, silent_after)
    found: list[dict[str, Any]] = []
    connector = health["connector"]
    if connector.get("applies") and connector.get("status") == "offline":
        found.append({"kind": "connector_offline", "severity": "alert", "since": connector.get("since"),
                      "text": t("banner_connector_offline", since=local_time(connector.get("since"), tz, now)),
                      "article": _article(session, "diary_connection_lost")})
    if health["collisions"]:
        count = int(health["collisions"])
        text = (t("banner_collisions_one", days=RECENT_COLLISION_DAYS) if count == 1
                else t("banner_collisions", count=count, days=RECENT_COLLISION_DAYS))
        found.append({"kind": "collisions", "severity": "warning", "count": count, "text": text,
                      "article": _article(session, "diary_collision")})
    for problem in health["notification_problems"]:
        if problem.get("code") == "bouncing_address":
            found.append({"kind": "email_bouncing", "severity": "warning", "address": problem.get("address"),
                          "text": t("banner_bouncing", address=problem.get("address"),
                                    since=local_time(problem.get("last_bounce_at"), tz, now)),
                          "article": _article(session, "email_bounced")})
        elif problem.get("code") in {"no_booking_email", "email_not_configured"}:
            found.append({"kind": "no_booking_email", "severity": "warning", "text": t("banner_no_booking_email"),
                          "article": _article(session, "email_not_configured")})
        elif problem.get("code") in {"collision_alerts_off", "connection_alerts_off"} and not any(
                b["kind"] == "alerts_off" for b in found):
            found.append({"kind": "alerts_off", "severity": "info", "text": t("banner_alerts_off"),
                          "article": _article(session, "alerts_disabled")})
    return found


def _status_words(status: str) -> str:
    key = f"way_status_{status}"
    return t(key) if key in STRINGS else status.replace("_", " ")


def _way_details(key: str, channel: dict[str, Any]) -> list[str]:
    if key == "bookings_list":
        return [t("way_status_cancelled")] if channel["status"] == "cancelled" else []
    if key == "email" and channel.get("recipients"):
        return [t("way_recipient", address=r["address"], status=_status_words(r["status"])) for r in channel["recipients"]]
    return [_status_words(channel["status"])] + ([channel["detail"]] if key == "diary" and channel.get("detail") else [])


def ways(channels: dict[str, Any]) -> list[dict[str, Any]]:
    """Each way in a sentence ("Booking email: received"), with what happened; a booking still
    waiting in the sidebar reads as waiting, not as received."""
    rows = []
    for key in ("bookings_list", "email", "diary"):
        channel = channels[key]
        way = t("way_sidebar") if key == "diary" and channel.get("mode") == "sidebar" else t(f"way_{key}")
        if channel["status"] == "sidebar_alerted":
            rows.append({"key": key, "received": False, "text": t("way_line", way=way, state=t("way_waiting")),
                         "detail": ""})
            continue
        state = t("way_received") if channel["received"] else t("way_missed")
        rows.append({"key": key, "received": channel["received"], "text": t("way_line", way=way, state=state),
                     "detail": " · ".join(_way_details(key, channel))})
    return rows


def alerted_note(causes: list[str]) -> str | None:
    """Why nobody alerted the practice about a failed insert (``None``: the alerts listed did)."""
    if "alerts_disabled" in causes:
        return t("alerted_none_disabled")
    if "alert_not_sent" in causes:
        return t("alerted_none_missing")
    never = next((c for c in causes if c in ("diary_patient_match", "diary_rejected")), None)
    return t("alerted_none_never_sent", why=t(f"why_{never}")) if never else None


def practice_diagnosis(diagnosis: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The agent's diagnosis, plus the practice's wording and local times for the panel."""
    tz = ZoneInfo(diagnosis.get("timezone") or "UTC")
    channels = diagnosis["channels"]
    return {
        **diagnosis,
        "ways": ways(channels),
        "alerted_note": alerted_note(diagnosis["causes"]),
        "practice_summary": in_practice_words(diagnosis["summary"]),
        "actions": [{**a, "text": in_practice_words(a["text"])} for a in diagnosis["actions"]],
        "local": {
            "appointment_at": local_time(diagnosis.get("appointment_at"), tz, now),
            "created_at": local_time(diagnosis.get("created_at"), tz, now),
            "diary_at": local_time(channels["diary"].get("at"), tz, now),
            "alerts": [local_time(a.get("at"), tz, now) for a in diagnosis.get("practice_alerted") or []],
        },
    }


def looks_like_reference(q: str) -> bool:
    return bool(REFERENCE_SHAPE.match(q)) and any(ch.isdigit() for ch in q)


def matching_bookings(session: Session, practice_id: str, q: str) -> list[Any]:
    rows, _ = queries.list_bookings(session, practice_id, queries.BookingFilters(q=q), None, CHECK_MATCHES)
    return rows
