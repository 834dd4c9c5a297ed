"""JSON API: the signed ingest endpoint and the booking diagnostics, for agents and practice users.

Agents name the practice in the path; practice users get ``/api/v1/me/...``, scoped to the
practice inside their widget token, so they can never ask about another practice.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy.exc import IntegrityError

from helpdesk.bookings import ingest, presenters, queries
from helpdesk.bookings.models import Practice
from helpdesk.core import db
from helpdesk.core.audit import AuditAction, audit_request
from helpdesk.core.auth import api_agent_required, practice_user_required
from helpdesk.core.clock import utcnow
from helpdesk.core.errors import BadInput, not_found
from helpdesk.core.guard import parse_json
from helpdesk.core.signing import verify_signature
from helpdesk.core.web import choices_arg, int_arg, moment_arg

bp = Blueprint("bookings_api", __name__, url_prefix="/api/v1")


@bp.post("/ingest/events")
def ingest_events() -> tuple[Response, int]:
    body = request.get_data(cache=False)
    verify_signature(
        current_app.config["INGEST_SECRET"],
        request.headers.get("X-Helpdesk-Timestamp"),
        request.headers.get("X-Helpdesk-Signature"),
        body,
        current_app.config["INGEST_MAX_SKEW_SECONDS"],
    )
    # A JSON body was parsed (and checked) once already, before the view (helpdesk.core.guard).
    payload = request.get_json() if request.is_json else parse_json(body)
    events = ingest.parse_batch(payload, current_app.config["INGEST_MAX_BATCH"])
    queue = len(events) > current_app.config["INGEST_INLINE_MAX_EVENTS"]  # a bulk batch: see ingest
    for attempt in (1, 2):
        try:
            result = ingest.apply_events(db.session(), events, queue=queue)
            db.session.commit()
            break
        except IntegrityError:
            # A concurrent request stored some of the same events first: retry, they now count as repeats.
            db.session.rollback()
            if attempt == 2:
                raise
    if result.practice_ids:
        ingest.events_ingested.send(current_app._get_current_object(), practice_ids=result.practice_ids)
    return jsonify({"accepted": result.accepted, "duplicates": result.duplicates, "queued": result.queued}), 200


# --- shared readers --------------------------------------------------------------------------

def booking_filters(practice: Practice) -> queries.BookingFilters:
    tz = ZoneInfo(practice.timezone)
    q = request.args.get("q", "")
    if len(q) > 200:
        raise BadInput("invalid_parameter", "q must be at most 200 characters")
    return queries.BookingFilters(
        q=q,
        date_from=moment_arg("from", tz),
        date_to=moment_arg("to", tz, end_of_day=True),
        email_status=choices_arg("email_status", queries.EMAIL_STATUSES),
        diary_status=choices_arg("diary_status", queries.DIARY_STATUSES),
        missed_only=request.args.get("missed") in ("1", "true"),
    )


def bookings_payload(practice: Practice, reveal: bool) -> dict[str, Any]:
    rows, next_cursor = queries.list_bookings(
        db.session(), practice.id, booking_filters(practice), request.args.get("cursor"),
        int_arg("limit", current_app.config["BOOKINGS_PAGE_SIZE"], 1, queries.MAX_PAGE),
    )
    return {
        "practice_id": practice.id,
        "timezone": practice.timezone,
        "bookings": [presenters.booking_row(b, reveal) for b in rows],
        "next_cursor": next_cursor,
    }


def diagnosis_payload(practice: Practice, reference: str, reveal: bool) -> dict[str, Any]:
    verdict = queries.diagnose_booking(db.session(), practice.id, reference, utcnow(), reveal=reveal)
    if verdict is None:
        raise not_found("booking")
    return verdict


def events_payload(practice: Practice) -> dict[str, Any]:
    tz = ZoneInfo(practice.timezone)
    rows, next_cursor = queries.list_integration_events(
        db.session(), practice.id, choices_arg("kind", queries.INTEGRATION_KINDS),
        moment_arg("since", tz), moment_arg("until", tz, end_of_day=True), request.args.get("cursor"),
        int_arg("limit", 50, 1, queries.MAX_PAGE),
    )
    return {"practice_id": practice.id, "events": [presenters.integration_event_row(e) for e in rows],
            "next_cursor": next_cursor}


def health_payload(practice: Practice) -> dict[str, Any]:
    window_days = int_arg("window_days", current_app.config["HEALTH_WINDOW_DAYS"], 1, 365)
    return queries.practice_health(db.session(), practice, utcnow(), current_app.config, window_days)


def _reveal_requested() -> bool:
    return request.args.get("reveal") in ("1", "true")


# --- agents ----------------------------------------------------------------------------------

@bp.get("/practices")
@api_agent_required
def practices() -> Response:
    q = request.args.get("q", "")[:200]
    return jsonify({"practices": [presenters.practice_summary(p) for p in queries.search_practices(db.session(), q)]})


@bp.get("/practices/<practice_id>")
@api_agent_required
def practice(practice_id: str) -> Response:
    return jsonify(presenters.practice_summary(queries.visible_practice(db.session(), g.agent, practice_id)))


@bp.get("/practices/<practice_id>/bookings")
@api_agent_required
def practice_bookings(practice_id: str) -> Response:
    found = queries.visible_practice(db.session(), g.agent, practice_id)
    reveal = _reveal_requested()
    payload = bookings_payload(found, reveal)
    audit_request(AuditAction.REVEAL_PATIENTS if reveal else AuditAction.VIEW_BOOKINGS, found.id, count=len(payload["bookings"]))
    return jsonify(payload)


@bp.get("/practices/<practice_id>/bookings/<reference>/diagnosis")
@api_agent_required
def practice_diagnosis(practice_id: str, reference: str) -> Response:
    found = queries.visible_practice(db.session(), g.agent, practice_id)
    reveal = _reveal_requested()
    payload = diagnosis_payload(found, reference, reveal)
    audit_request(AuditAction.REVEAL_PATIENT if reveal else AuditAction.VIEW_DIAGNOSIS, found.id, reference)
    return jsonify(payload)


@bp.get("/practices/<practice_id>/integration-events")
@api_agent_required
def practice_integration_events(practice_id: str) -> Response:
    found = queries.visible_practice(db.session(), g.agent, practice_id)
    payload = events_payload(found)
    audit_request(AuditAction.VIEW_INTEGRATION_EVENTS, found.id, count=len(payload.get("events", [])))  # audited like bookings
    return jsonify(payload)


@bp.get("/practices/<practice_id>/health")
@api_agent_required
def practice_health(practice_id: str) -> Response:
    found = queries.visible_practice(db.session(), g.agent, practice_id)
    payload = health_payload(found)
    audit_request(AuditAction.VIEW_HEALTH, found.id)
    return jsonify(payload)


# --- practice users (widget token) -----------------------------------------------------------

def _own_practice() -> Practice:
    return queries.visible_practice(db.session(), g.practice_user, g.practice_user.practice_id)


@bp.get("/me/bookings")
@practice_user_required
def my_bookings() -> Response:
    return jsonify(bookings_payload(_own_practice(), reveal=True))


@bp.get("/me/bookings/<reference>/diagnosis")
@practice_user_required
def my_diagnosis(reference: str) -> Response:
    return jsonify(diagnosis_payload(_own_practice(), reference, reveal=True))


@bp.get("/me/integration-events")
@practice_user_required
def my_integration_events() -> Response:
    return jsonify(events_payload(_own_practice()))


@bp.get("/me/health")
@practice_user_required
def my_health() -> Response:
    return jsonify(health_payload(_own_practice()))
