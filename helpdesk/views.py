"""Agent console pages: login, practice search and the practice diagnostics page.

The pages read through ``helpdesk.queries`` (and the API's request parsers, so the console and
the API accept the same filters); every look at a practice's booking data is audited here.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sansio.blueprints import BlueprintSetupState
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from helpdesk import api, db, queries
from helpdesk.auth import console_agent, hash_password, login_required, start_console_session, verify_password
from helpdesk.db import utcnow
from helpdesk.diagnosis import CAUSE_PHRASES
from helpdesk.errors import ApiError
from helpdesk.extensions import limiter
from helpdesk.models import Agent, Practice
from helpdesk.service import record_audit

bp = Blueprint("console", __name__, url_prefix="/console")

REVEAL_MINUTES = 15
TIMELINE_PAGE_SIZE = 20
BAD_CREDENTIALS = "That email and password do not match an agent account."

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
TIME_FORMATS = {"full": "%a %d %b %Y, %H:%M %Z", "compact": "%d %b %Y %H:%M %Z", "clock": "%H:%M %Z"}


class LoginForm(FlaskForm):
    email = StringField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


# --- helpers for templates -------------------------------------------------------------------

@bp.app_template_filter("local_time")
def local_time(value: datetime | str | None, tz_name: str, style: str = "full") -> str:
    """A UTC moment as the practice's staff would read it, with the zone's abbreviation."""
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(ZoneInfo(tz_name)).strftime(TIME_FORMATS[style])


@bp.app_template_global("badge_for")
def badge_for(channel: str, status: str) -> tuple[str, str]:
    return CHANNEL_BADGES.get(channel, {}).get(status, (status.replace("_", " ").capitalize(), "muted"))


@bp.context_processor
def _console_vocabulary() -> dict[str, Any]:
    return {
        "channel_titles": CHANNEL_TITLES,
        "connector_badges": CONNECTOR_BADGES,
        "timeline_labels": TIMELINE_LABELS,
        "reason_labels": REASON_LABELS,
        "alert_labels": ALERT_LABELS,
        "cause_phrases": CAUSE_PHRASES,
    }


@bp.errorhandler(ApiError)
def _console_error(exc: ApiError) -> tuple[str, int]:
    """The API's parsers raise ApiError; on a console page it is an HTML error page."""
    return render_template("helpdesk/error.html", status=exc.status, message=exc.message), exc.status


@bp.get("")
@bp.get("/")
def home() -> Response:
    return redirect(url_for("console.practices"))  # type: ignore[return-value]


def _serve_home_at_root(state: BlueprintSetupState) -> None:
    """The site root is outside the blueprint's prefix, so it is added to the app itself."""
    state.app.add_url_rule("/", "index", home)


bp.record_once(_serve_home_at_root)


# --- login and logout ------------------------------------------------------------------------

def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    default = url_for("console.practices")
    if not target:
        return default
    parts = urlsplit(target)
    if (parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(ch) < 32 for ch in target)):
        return default
    return target.rstrip("?")


@cache
def _decoy_hash() -> str:
    """Verified against when the email is unknown, so timing does not reveal which emails exist."""
    return hash_password("no agent has this password")


def _authenticate(email: str, password: str) -> Agent | None:
    agent = db.session.scalar(select(Agent).where(Agent.email == email.strip().lower()))
    if agent is None:
        verify_password(_decoy_hash(), password)
        return None
    if not verify_password(agent.password_hash, password) or not agent.is_active:
        return None
    return agent


def _login_rate_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"])
def login() -> Any:
    form = LoginForm()
    if request.method == "GET":
        if console_agent() is not None:
            return redirect(_safe_next(request.args.get("next")))
        form.next.data = request.args.get("next", "")
    error = None
    if form.validate_on_submit():
        agent = _authenticate(form.email.data or "", form.password.data or "")
        if agent is not None:
            agent.last_login_at = utcnow()
            start_console_session(agent)
            db.session.commit()
            return redirect(_safe_next(form.next.data), 303)
        error = BAD_CREDENTIALS
    status = 401 if error else (400 if request.method == "POST" else 200)
    return render_template("helpdesk/login.html", form=form, error=error), status


@bp.post("/logout")
def logout() -> Response:
    session.clear()
    flash("You have logged out.")
    return redirect(url_for("console.login"), 303)  # type: ignore[return-value]


# --- practice search -------------------------------------------------------------------------

def _silent_after() -> timedelta:
    return timedelta(minutes=current_app.config["CONNECTOR_SILENT_AFTER_MINUTES"])


def _connector_status(practice: Practice, now: datetime) -> str:
    return str(queries.connector_health(practice, now, _silent_after())["status"])


@bp.get("/practices")
@login_required
def practices() -> str:
    q = request.args.get("q", "").strip()[:200]
    now = utcnow()
    found = [(p, _connector_status(p, now)) for p in queries.search_practices(db.session(), q)]
    return render_template("helpdesk/practices.html", q=q, results=found)


# --- the practice diagnostics page -----------------------------------------------------------

def _practice_or_404(practice_id: str) -> Practice:
    practice = db.session.get(Practice, practice_id)
    if practice is None:
        abort(404, description="There is no practice with that id.")
    return practice


def _reveal_until(practice_id: str) -> float | None:
    """Until when (unix time) this agent's session shows the practice's patient names."""
    until = session.get("reveal", {}).get(practice_id)
    return until if isinstance(until, (int, float)) and until > time.time() else None


def _set_reveal(practice_id: str, until: float | None) -> None:
    now = time.time()
    reveals = {pid: t for pid, t in session.get("reveal", {}).items() if isinstance(t, (int, float)) and t > now}
    if until is None:
        reveals.pop(practice_id, None)
    else:
        reveals[practice_id] = until
    session["reveal"] = reveals


def _audit(action: str, practice_id: str, target: str | None = None, **detail: Any) -> None:
    record_audit(db.session(), g.agent, action, practice_id, target, ip=request.remote_addr, **detail)


def _page_url(practice_id: str, **changes: str | None) -> str:
    """This page's URL with some query arguments changed (``None`` drops one)."""
    args: dict[str, Any] = {**request.args.to_dict(), **changes}
    kept = {name: value for name, value in args.items() if value not in (None, "")}
    return url_for("console.practice", practice_id=practice_id, **kept)


def _bookings_page(practice: Practice, reveal: bool) -> dict[str, Any]:
    rows, next_cursor = queries.list_bookings(
        db.session(), practice.id, api.booking_filters(practice), request.args.get("cursor") or None,
        current_app.config["BOOKINGS_PAGE_SIZE"],
    )
    return {"rows": [queries.booking_row(b, reveal) for b in rows], "next_cursor": next_cursor}


def _timeline_page(practice: Practice) -> dict[str, Any]:
    rows, next_cursor = queries.list_integration_events(
        db.session(), practice.id, (), None, None, request.args.get("events_cursor") or None, TIMELINE_PAGE_SIZE,
    )
    return {"rows": [queries.integration_event_row(e) for e in rows], "next_cursor": next_cursor}


def _filters_in_use() -> bool:
    return any(request.args.get(name) for name in ("q", "from", "to", "email_status", "diary_status", "missed"))


@bp.get("/practices/<practice_id>")
@login_required
def practice(practice_id: str) -> tuple[str, int]:
    found = _practice_or_404(practice_id)
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
    }
    _audit("view_diagnostics", found.id, revealed=reveal)
    if reference:
        _audit("view_diagnosis", found.id, reference, found=verdict is not None, revealed=reveal)
    db.session.commit()
    status = 404 if reference and verdict is None else 200
    return render_template("helpdesk/practice.html", **context), status


def _back_to_practice(practice_id: str) -> Response:
    target = _safe_next(request.form.get("return_to"))
    own_page = url_for("console.practice", practice_id=practice_id)
    return redirect(target if target.split("?")[0] == own_page else own_page, 303)  # type: ignore[return-value]


@bp.post("/practices/<practice_id>/reveal")
@login_required
def reveal_names(practice_id: str) -> Response:
    found = _practice_or_404(practice_id)
    reference = (request.form.get("reference") or "").strip()[:64] or None
    _set_reveal(found.id, time.time() + REVEAL_MINUTES * 60)
    _audit("reveal_patient", found.id, reference, minutes=REVEAL_MINUTES)
    db.session.commit()
    return _back_to_practice(found.id)


@bp.post("/practices/<practice_id>/hide")
@login_required
def hide_names(practice_id: str) -> Response:
    found = _practice_or_404(practice_id)
    _set_reveal(found.id, None)
    return _back_to_practice(found.id)
