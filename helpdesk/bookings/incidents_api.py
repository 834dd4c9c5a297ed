"""JSON API for bookings at risk and incidents (agents), and the practice user's own view.

Registered by ``helpdesk.bookings.init_app`` beside ``bookings.api``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy import select

from helpdesk.bookings import atrisk, incidents, queries
from helpdesk.bookings.models import (
    INCIDENT_STATES,
    Incident,
    IncidentPractice,
    Practice,
)
from helpdesk.core import db
from helpdesk.core.audit import AuditAction, audit_request
from helpdesk.core.auth import api_agent_required, practice_user_required
from helpdesk.core.clock import utcnow
from helpdesk.core.errors import InvalidInput, not_found
from helpdesk.core.web import json_object

bp = Blueprint("incidents_api", __name__, url_prefix="/api/v1")
UPDATE_MAX = 5000


def _day(practice: Practice) -> date:
    raw = request.args.get("date")
    if not raw:
        return atrisk.practice_today(practice, utcnow())
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput("invalid_parameter", "date must be a date (YYYY-MM-DD)", field="date") from exc


def _incident(incident_id: int) -> Incident:
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        raise not_found("incident")
    return incident


@bp.get("/practices/<practice_id>/bookings/at-risk")
@api_agent_required
def practice_at_risk(practice_id: str) -> Response:
    practice = queries.visible_practice(db.session(), g.agent, practice_id)
    payload = atrisk.at_risk_payload(db.session(), practice, _day(practice), utcnow())
    audit_request(AuditAction.VIEW_AT_RISK, practice.id, None, count=payload["count"])
    return jsonify(payload)


@bp.get("/incidents")
@api_agent_required
def list_incidents() -> Response:
    state = request.args.get("state") or None
    if state is not None and state not in INCIDENT_STATES:
        raise InvalidInput("invalid_parameter", f"state must be one of {', '.join(INCIDENT_STATES)}", field="state")
    session = db.session()
    return jsonify({"incidents": [incidents.incident_summary(session, i) for i in incidents.list_incidents(session, state)]})


@bp.get("/incidents/<int:incident_id>")
@api_agent_required
def get_incident(incident_id: int) -> Response:
    return jsonify(incidents.incident_detail(db.session(), _incident(incident_id)))


def post_update(incident: Incident, agent: Any, body: Any) -> dict[str, Any]:
    """Post ``body`` into every open chat and request of the incident's practices, and its timeline."""
    from chat import service as chat_service
    from chat.models import Conversation
    from helpdesk.requests import service as requests_service
    from helpdesk.requests.models import Request

    if not isinstance(body, str) or not body.strip():
        raise InvalidInput("invalid_field", "body is required", field="body")
    text = body.strip()
    if len(text) > UPDATE_MAX:
        raise InvalidInput("invalid_field", f"body must be at most {UPDATE_MAX} characters", field="body")
    session = db.session()
    now = utcnow()
    practice_ids = list(session.scalars(
        select(IncidentPractice.practice_id).where(IncidentPractice.incident_id == incident.id)
    ))
    chats = list(session.scalars(
        select(Conversation).where(Conversation.practice_id.in_(practice_ids), Conversation.status != "closed")
    )) if practice_ids else []
    reqs = list(session.scalars(
        select(Request).where(Request.practice_id.in_(practice_ids), Request.status.notin_(("solved", "closed")))
    )) if practice_ids else []
    message = f"Incident #{incident.id} ({incident.title}): {text}"
    for conversation in chats:
        chat_service.system_message(session, conversation, now, "incident_update", message, incident_id=incident.id)
    for req in reqs:
        requests_service.add_comment(session, req, agent, message, public=True, now=now)
    incidents.add_update(session, incident, agent.id, text, now)
    return {"incident_id": incident.id, "chats": len(chats), "requests": len(reqs)}


@bp.post("/incidents/<int:incident_id>/updates")
@api_agent_required
def incident_update(incident_id: int) -> tuple[Response, int]:
    incident = _incident(incident_id)
    result = post_update(incident, g.agent, json_object().get("body"))
    db.session.commit()
    incidents.announce(current_app._get_current_object(), db.session())
    return jsonify(result), 201


# --- practice users ---------------------------------------------------------------------------

def _own_practice() -> Practice:
    return queries.visible_practice(db.session(), g.practice_user, g.practice_user.practice_id)


@bp.get("/me/bookings/at-risk")
@practice_user_required
def my_at_risk() -> Response:
    practice = _own_practice()
    return jsonify(atrisk.at_risk_payload(db.session(), practice, _day(practice), utcnow(), reveal=True))


@bp.get("/me/incident")
@practice_user_required
def my_incident() -> Response:
    return jsonify({"incident": incidents.banner_for(db.session(), _own_practice(), utcnow())})
