"""Agent console pages: login, practice search and the practice diagnostics page.

The pages read through ``helpdesk.queries`` (and the API's request parsers, so the console and
the API accept the same filters); every look at a practice's booking data is audited here.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from helpdesk.bookings import api, atrisk, incidents, presenters, queries
from helpdesk.bookings.diagnosis import CAUSE_PHRASES
from helpdesk.bookings.models import Practice
from helpdesk.core import db
from helpdesk.core.audit import AuditAction, audit_request
from helpdesk.core.auth import login_required
from helpdesk.core.clock import unix_now, utcnow
from helpdesk.core.web import safe_next

bp = Blueprint("practices", __name__, url_prefix="/console/practices", template_folder="templates")

REVEAL_MINUTES = 15
TIMELINE_PAGE_SIZE = 20

# (label, tone) per channel status; the tone picks the colour, the label always says it in words.
CHANNEL_BADGES: dict[str, dict[str, tuple[str, str]]] = {
    "bookings_list": {"delivered": ("Listed", "ok"), "cancelled": ("Cancelled", "muted")},
    "email": {
        "delivered": ("Delivered", "ok"),
        "sent": ("Sent", "ok"),
        "bounced": ("Bounced", "bad"),
        "failed": ("Failed", "bad"),
        "not_configured": ("No address set", "bad"),
        "pending": ("Pending", "muted"),
    },
    "diary": {
        "inserted": ("Inserted", "ok"),
        "sidebar_transferred": ("Transferred", "ok"),
        "sidebar_alerted": ("In sidebar", "warn"),
        "collision": ("Collision", "bad"),
        "connection_lost": ("Connection lost", "bad"),
        "patient_match": ("Patient not matched", "bad"),
        "rejected": ("Rejected", "bad"),
        "pending": ("Pending", "muted"),
    },
}
CHANNEL_TITLES = {"bookings_list": "Bookings list", "email": "Email notification", "diary": "Diary"}
CONNECTOR_BADGES = {
    "online": ("Online", "ok"),
    "offline": ("Offline", "bad"),
    "silent": ("No heartbeat", "warn"),
    "unknown": ("Unknown", "muted"),
    "not_integrated": ("None (sidebar)", "muted"),
}
TIMELINE_LABELS = {
    "connection_lost": ("Connection lost", "bad"),
    "connection_restored": ("Connection restored", "ok"),
    "diary_failed": ("Diary insert failed", "bad"),
}
REASON_LABELS = {
    "collision": "booking collision",
    "connection_lost": "connection lost",
    "patient_match": "patient not matched",
    "rejected": "rejected by the practice software",
}
ALERT_LABELS = {"collision": "Collision alert", "connection_lost": "Lost-connection alert"}
# What the decisive diary fact says happened ("Failed" for the rest): a sidebar alert is not done yet.
DIARY_OUTCOMES = {"inserted": "Inserted", "sidebar_transferred": "Transferred by hand",
                  "sidebar_alerted": "Alerted in the sidebar"}


# --- helpers for templates -------------------------------------------------------------------

@bp.app_template_global("badge_for")
def badge_for(channel: str, status: str) -> tuple[str, str]:
    return CHANNEL_BADGES.get(channel, {}).get(status, (status.replace("_", " ").capitalize(), "muted"))


@bp.app_context_processor
def console_vocabulary() -> dict[str, Any]:
    return {
        "channel_titles": CHANNEL_TITLES,
        "connector_badges": CONNECTOR_BADGES,
        "timeline_labels": TIMELINE_LABELS,
        "reason_labels": REASON_LABELS,
        "alert_labels": ALERT_LABELS,
        "cause_phrases": CAUSE_PHRASES,
        "diary_outcomes": DIARY_OUTCOMES,
        "alert_verdict": presenters.alert_verdict,
    }


# --- practice search -------------------------------------------------------------------------

def _silent_after() -> timedelta:
    return timedelta(minutes=current_app.config["CONNECTOR_SILENT_AFTER_MINUTES"])


def _connector_status(practice: Practice, now: datetime) -> str:
    return str(queries.connector_health(practice, now, _silent_after())["status"])


@bp.get("")
@login_required
def practices() -> str:
    q = request.args.get("q", "").strip()[:200]
    now = utcnow()
    found = [(p, _connector_status(p, now)) for p in queries.search_practices(db.session(), q)]
    return render_template("bookings/practices.html", q=q, results=found)


# --- the practice diagnostics page -----------------------------------------------------------

def _reveal_until(practice_id: str) -> float | None:
    """Until when (unix time) this agent's session shows the practice's patient names."""
    until = session.get("reveal", {}).get(practice_id)
    return until if isinstance(until, (int, float)) and until > unix_now() else None


def _set_reveal(practice_id: str, until: float | None) -> None:
    now = unix_now()
    reveals = {pid: t for pid, t in session.get("reveal", {}).items() if isinstance(t, (int, float)) and t > now}
    if until is None:
        reveals.pop(practice_id, None)
    else:
        reveals[practice_id] = until
    session["reveal"] = reveals


def _page_url(practice_id: str, **changes: str | None) -> str:
    """This page's URL with some query arguments changed (``None`` drops one)."""
    args: dict[str, Any] = {**request.args.to_dict(), **changes}
    kept = {name: value for name, value in args.items() if value not in (None, "")}
    return url_for("practices.practice", practice_id=practice_id, **kept)


def _bookings_page(practice: Practice, reveal: bool) -> dict[str, Any]:
    """One page of the bookings list, with the cursors of the older and (past the first page) newer one."""
    filters, cursor, size = api.booking_filters(practice), request.args.get("cursor") or None, \
        current_app.config["BOOKINGS_PAGE_SIZE"]
    rows, next_cursor = queries.list_bookings(db.session(), practice.id, filters, cursor, size)
    newer = queries.newer_cursor(db.session(), practice.id, filters, cursor, size) if cursor else None
    return {"rows": [presenters.booking_row(b, reveal) for b in rows], "next_cursor": next_cursor,
            "has_newer": cursor is not None, "newer_cursor": newer}


def _timeline_page(practice: Practice) -> dict[str, Any]:
    rows, next_cursor = queries.list_integration_events(
        db.session(), practice.id, (), None, None, request.args.get("events_cursor") or None, TIMELINE_PAGE_SIZE,
    )
    return {"rows": [presenters.integration_event_row(e) for e in rows], "next_cursor": next_cursor}


def _filters_in_use() -> bool:
    return any(request.args.get(name) for name in ("q", "from", "to", "email_status", "diary_status", "missed"))


@bp.get("/<practice_id>")
@login_required
def practice(practice_id: str) -> tuple[str, int]:
    found = queries.visible_practice(db.session(), g.agent, practice_id)
    reveal_until = _reveal_until(found.id)
    reveal = reveal_until is not None
    reference = request.args.get("booking", "").strip()[:64]
    verdict = queries.diagnose_booking(db.session(), found.id, reference, utcnow(), reveal) if reference else None
    context = {
        "practice": found,
        "tz": found.timezone,
        "health": api.health_payload(found),
        "bookings": _bookings_page(found, reveal),
        "timeline": _timeline_page(found),
        "reference": reference,
        "diagnosis": verdict,
        "reveal_until": datetime.fromtimestamp(reveal_until, timezone.utc) if reveal_until else None,
        "reveal_minutes": REVEAL_MINUTES,
        "filters_in_use": _filters_in_use(),
        "page_url": lambda **changes: _page_url(found.id, **changes),
        "email_statuses": queries.EMAIL_STATUSES,
        "diary_statuses": queries.DIARY_STATUSES,
        "at_risk": atrisk.at_risk_payload(db.session(), found, atrisk.practice_today(found, utcnow()), utcnow(), reveal),
        "incident": incidents.open_incident_for(db.session(), found.id),
    }
    audit_request(AuditAction.VIEW_DIAGNOSTICS, found.id, revealed=reveal)
    if reference:
        audit_request(AuditAction.VIEW_DIAGNOSIS, found.id, reference, found=verdict is not None, revealed=reveal)
    db.session.commit()
    status = 404 if reference and verdict is None else 200
    return render_template("bookings/practice.html", **context), status


def _back_to_practice(practice_id: str) -> Response:
    own_page = url_for("practices.practice", practice_id=practice_id)
    target = safe_next(request.form.get("return_to"), own_page)
    return redirect(target if target.split("?")[0] == own_page else own_page, 303)  # type: ignore[return-value]


@bp.post("/<practice_id>/reveal")
@login_required
def reveal_names(practice_id: str) -> Response:
    found = queries.visible_practice(db.session(), g.agent, practice_id)
    reference = (request.form.get("reference") or "").strip()[:64] or None
    _set_reveal(found.id, unix_now() + REVEAL_MINUTES * 60)
    audit_request(AuditAction.REVEAL_PATIENT, found.id, reference, minutes=REVEAL_MINUTES)
    return _back_to_practice(found.id)


@bp.post("/<practice_id>/hide")
@login_required
def hide_names(practice_id: str) -> Response:
    found = queries.visible_practice(db.session(), g.agent, practice_id)
    _set_reveal(found.id, None)
    return _back_to_practice(found.id)
