"""HTTP for the answer desk: the widget's one box (practice users), and the settings and
outcome rates (agents)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, Response, g, jsonify, request

from chat.assistant import answer as engine
from chat.assistant import queries, service
from helpdesk.core import db
from helpdesk.core.auth import api_agent_required, practice_user_required
from helpdesk.core.clock import utcnow
from helpdesk.core.errors import BadInput, InvalidInput, TooLarge
from helpdesk.core.web import json_object, moment_arg

bp = Blueprint("assistant_api", __name__, url_prefix="/api/v1")
ASK_MAX = 2_000
DEFAULT_RANGE = timedelta(days=30)


@bp.post("/me/assistant/ask")
@practice_user_required
def ask() -> Response:
    text = json_object().get("text")
    if not isinstance(text, str):
        raise InvalidInput("missing_field" if text is None else "invalid_field", "text is required", field="text")
    if len(text) > ASK_MAX:
        raise TooLarge("too_long", f"text must be at most {ASK_MAX:,} characters", field="text")
    text = " ".join(text.split())
    if not text:
        raise InvalidInput("missing_field", "text is required", field="text")
    _u, found = engine.ask(db.session(), g.practice_user.practice_id, text, utcnow())
    db.session.rollback()  # read only
    return jsonify({"answer": found.text, "data": found.data()})


@bp.get("/assistant/settings")
@api_agent_required
def get_settings() -> Response:
    payload = service.settings_payload(service.settings(db.session()))
    db.session.rollback()
    return jsonify(payload)


@bp.put("/assistant/settings")
@bp.patch("/assistant/settings")
@api_agent_required
def put_settings() -> Response:
    row = service.update_settings(db.session(), g.agent, json_object(), utcnow())
    return jsonify(service.settings_payload(row))


@bp.get("/assistant/outcomes")
@api_agent_required
def outcomes() -> Response:
    try:
        tz = ZoneInfo((request.args.get("tz") or "UTC").strip()[:64])
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadInput("invalid_parameter", "tz must be an IANA time zone", field="tz") from exc
    now = utcnow()
    end = moment_arg("to", tz, end_of_day=True) or now
    start = moment_arg("from", tz) or end - DEFAULT_RANGE
    if start >= end:
        raise BadInput("invalid_parameter", "from must be before to", field="from")
    session = db.session()
    service.settle(session, now)
    return jsonify(queries.outcome_rates(session, start, end, tz))
