"""HTTP for the help widget: the embed script, the panel, the panel's JSON helpers and the demo portal.

- ``GET /widget.js``: the portal's one script tag (``static/widget/widget.js``, strings filled in).
- ``GET /widget/panel``: the panel shell, framed by the portal. ``frame-ancestors`` admits the
  helpdesk itself and ``HELPDESK_WIDGET_ORIGINS``; the panel's script accepts messages only from
  those origins. The widget token never travels in a URL: the portal hands it over by postMessage
  and the panel sends it as ``Authorization: Bearer``.
- ``GET /api/v1/me/widget/home`` and ``/api/v1/me/widget/check``: Home's suggestions and
  "Check a booking", scoped to the practice inside the widget token.
- ``GET /demo/portal``: a stand-in practice admin portal with the widget embedded, minting a
  short-lived widget token server-side; only when ``HELPDESK_DEMO_PORTAL`` is on.
"""

from __future__ import annotations

import json
from datetime import timedelta
from functools import cache
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from helpdesk.bookings import atrisk, incidents
from helpdesk.bookings.models import Booking, Practice
from helpdesk.bookings.presenters import booking_row
from helpdesk.bookings.queries import diagnose_booking
from helpdesk.core import db
from helpdesk.core.auth import mint_widget_token, practice_user_required
from helpdesk.core.clock import utcnow
from helpdesk.core.errors import BadInput, InvalidInput
from helpdesk.widget import queries
from helpdesk.widget.strings import STRINGS
from kb import queries as kb_queries

bp = Blueprint("widget", __name__, template_folder="templates", static_folder="static",
               static_url_path="/widget/assets")

STATIC = Path(__file__).with_name("static") / "widget"
EMBED_STRINGS = ("launcher_label", "frame_title", "close", "unread")
DEMO_TOKEN_TTL = timedelta(minutes=10)
MAX_CONTEXT = 500


def _own_origin() -> str:
    return request.host_url.rstrip("/")


def embedding_origins() -> list[str]:
    """Who may frame the panel: the helpdesk itself and ``HELPDESK_WIDGET_ORIGINS``."""
    return [_own_origin(), *(o.rstrip("/") for o in current_app.config.get("WIDGET_ORIGINS") or [])]


@cache
def _widget_source() -> str:
    strings = {key: STRINGS[key] for key in EMBED_STRINGS}
    return (STATIC / "widget.js").read_text().replace("__STRINGS__", json.dumps(strings))


@bp.get("/widget.js")
def widget_js() -> Response:
    response = Response(_widget_source(), mimetype="application/javascript")
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"  # the portal loads it from its own pages
    return response


@bp.get("/widget/panel")
def panel() -> Response:
    ancestors = " ".join(["'self'", *(current_app.config.get("WIDGET_ORIGINS") or [])])
    response = Response(render_template(
        "widget/panel.html", t=STRINGS,
        config={"strings": STRINGS, "origins": embedding_origins(), "chat_url": url_for("chat_widget.widget_chat")},
    ))
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
        f"frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the panel's JSON helpers (widget token) ---------------------------------------------------

def _context_arg(name: str) -> str:
    return (request.args.get(name) or "").strip()[:MAX_CONTEXT]


def _labels() -> list[str]:
    return [x.strip().lower()[:100] for x in _context_arg("labels").split(",") if x.strip()][:20]


@bp.get("/api/v1/me/widget/home")
@practice_user_required
def home() -> Response:
    user, session, now = g.practice_user, db.session(), utcnow()
    practice = session.get(Practice, user.practice_id)
    silent_after = timedelta(minutes=current_app.config["CONNECTOR_SILENT_AFTER_MINUTES"])
    banners = queries.banners(session, practice, now, silent_after) if practice is not None else []
    reference = _context_arg("reference")
    booking = None
    if reference and practice is not None:
        found = session.scalar(select(Booking).where(Booking.practice_id == practice.id,
                                                     Booking.reference == reference.upper()))
        booking = booking_row(found, reveal=True) if found is not None else None
    labels, page = _labels(), _context_arg("page") or None
    matches = kb_queries.articles_for_context(session, labels, [], page, 5) if (labels or page) else []
    suggestions = [kb_queries.article_summary(m.article) for m in matches]
    if not suggestions:
        suggestions = [kb_queries.article_summary(a) for a in kb_queries.promoted_articles(session, 5)]
    return jsonify({
        "user": {"name": user.name, "email": user.email},
        "practice": {"id": user.practice_id, "name": practice.name if practice else None},
        "banners": banners,
        "booking": booking,
        "suggestions": suggestions,
        "contextual": bool(matches),
        # helpdesk.bookings: the incident banner and today's bookings at risk (the Home card).
        "incident": incidents.banner_for(session, practice, now) if practice is not None else None,
        "at_risk": (atrisk.at_risk_payload(session, practice, atrisk.practice_today(practice, now), now, reveal=True)
                    if practice is not None else None),
    })


@bp.get("/api/v1/me/widget/check")
@practice_user_required
def check() -> Response:
    """A reference gives its diagnosis; a name (or part of a reference) gives the matching bookings."""
    q = " ".join((request.args.get("q") or "").split())
    if not q:
        raise InvalidInput("missing_query", "type a booking reference or a patient's name", field="q")
    if len(q) > 200:
        raise BadInput("invalid_parameter", "q must be at most 200 characters", field="q")
    session, practice_id = db.session(), g.practice_user.practice_id
    practice = session.get(Practice, practice_id)
    if practice is None:
        return jsonify({"query": q, "diagnosis": None, "bookings": []})
    found = diagnose_booking(session, practice_id, q.upper(), utcnow(), reveal=True) \
        if queries.looks_like_reference(q) else None
    if found is not None:
        return jsonify({"query": q, "diagnosis": queries.practice_diagnosis(found, utcnow()), "bookings": []})
    rows = queries.matching_bookings(session, practice_id, q)
    if len(rows) == 1:
        found = diagnose_booking(session, practice_id, rows[0].reference, utcnow(), reveal=True)
        return jsonify({"query": q, "diagnosis": queries.practice_diagnosis(found, utcnow()), "bookings": []})
    return jsonify({"query": q, "diagnosis": None, "bookings": [booking_row(b, reveal=True) for b in rows]})


# --- the demo portal ---------------------------------------------------------------------------

DEMO_USER = {"user_id": "demo-staff-1", "name": "Demo Practice Staff", "email": "staff@practice.example"}


def _demo_practice() -> Practice:
    if not current_app.config.get("DEMO_PORTAL"):
        abort(404)
    session = db.session()
    wanted = (request.args.get("practice") or "").strip()[:100]
    practice = session.get(Practice, wanted) if wanted else None
    if practice is None:
        practice = session.scalar(select(Practice).order_by(Practice.id != "riverside-dental", Practice.id).limit(1))
    if practice is None:
        abort(404, "No practice yet: load the demo world with `flask --app wsgi demo load`.")
    return practice


def _demo_token(practice: Practice) -> str:
    return mint_widget_token(practice.id, DEMO_USER["user_id"], DEMO_USER["name"], DEMO_USER["email"],
                             ttl=DEMO_TOKEN_TTL)


@bp.get("/demo/portal")
def demo_portal() -> Response:
    practice = _demo_practice()
    session = db.session()
    practices = session.scalars(select(Practice).order_by(Practice.name)).all()
    bookings = session.scalars(
        select(Booking).where(Booking.practice_id == practice.id).order_by(Booking.created_at.desc()).limit(8)
    ).all()
    response = Response(render_template(
        "widget/demo_portal.html", practice=practice, practices=practices, token=_demo_token(practice),
        bookings=[booking_row(b, reveal=True) for b in bookings], user=DEMO_USER,
    ))
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-src 'self'"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/demo/portal/token")
def demo_token() -> Response:
    """A fresh widget token for the demo portal's ``onTokenExpired`` (same-origin callers only)."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in {"same-origin", "none"}:
        abort(403)
    practice = _demo_practice()
    response = jsonify({"token": _demo_token(practice), "expires_in": int(DEMO_TOKEN_TTL.total_seconds())})
    response.headers["Cache-Control"] = "no-store"
    return response


