"""``/api/v1/requests``: one set of paths for agents and practice users, scoped by the caller.

Agents authenticate with their API token (or, for reads only, the console session); practice
users with the widget token. A practice user only reaches its own requests (a practice admin:
its practice's) and only their public conversation; anything else is 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from helpdesk.core import db
from helpdesk.core.agents import Agent
from helpdesk.core.auth import (
    PracticeUser,
    agent_for_api_token,
    bearer_token,
    console_agent,
    practice_user_for_token,
    rate_limit_key,
)
from helpdesk.core.clock import utcnow
from helpdesk.core.errors import (
    BadInput,
    Forbidden,
    InvalidInput,
    Unauthenticated,
    not_found,
)
from helpdesk.core.extensions import limiter
from helpdesk.core.passwords import API_TOKEN_PREFIX
from helpdesk.core.web import choices_arg, int_arg, json_object
from helpdesk.requests import queries, service
from helpdesk.requests.models import PRIORITIES, STATUSES, Request, RequestAttachment
from helpdesk.requests.storage import attachment_store

bp = Blueprint("requests_api", __name__, url_prefix="/api/v1/requests")


@dataclass(frozen=True)
class Caller:
    agent: Agent | None = None
    user: PracticeUser | None = None


def current_caller(allow_session: bool = False) -> Caller:
    """Who calls: an agent token, a widget token, or (reads only) the console session.

    Writes never accept the cookie alone: this blueprint is exempt from CSRF.
    """
    if "Authorization" not in request.headers:
        agent = console_agent() if allow_session else None
        if agent is None:
            raise Unauthenticated("unauthenticated", "send Authorization: Bearer <token>")
        return Caller(agent=agent)
    token = bearer_token()
    if token.startswith(API_TOKEN_PREFIX):
        agent = agent_for_api_token(token)
        if agent is None:
            raise Unauthenticated("invalid_token", "the API token is not valid")
        return Caller(agent=agent)
    return Caller(user=practice_user_for_token(token))


def _reject_unknown(payload: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise InvalidInput("unknown_field", f"unknown field(s): {', '.join(unknown)}", field=unknown[0])


def parse_filters(for_agent: bool) -> queries.RequestFilters:
    q = request.args.get("q", "")
    if len(q) > 200:
        raise BadInput("invalid_parameter", "q must be at most 200 characters")
    view = request.args.get("view") or ("unsolved" if for_agent else "all")
    if view not in queries.VIEWS:
        raise BadInput("invalid_parameter", f"view must be one of {', '.join(queries.VIEWS)}")
    assignee = request.args.get("assignee_id")
    if assignee and not assignee.isdigit():
        raise BadInput("invalid_parameter", "assignee_id must be an agent id")
    return queries.RequestFilters(
        view=view if for_agent else "all",
        status=choices_arg("status", STATUSES),
        priority=choices_arg("priority", PRIORITIES) if for_agent else (),
        assignee_id=int(assignee) if assignee and for_agent else None,
        practice_id=(request.args.get("practice_id") or None) if for_agent else None,
        q=q,
    )


def _visible(caller: Caller, request_id: int) -> Request:
    if caller.agent is not None:
        found = db.session.get(Request, request_id)
    else:
        found = queries.get_for_requester(db.session(), request_id, caller.user)
    if found is None:
        raise not_found("request")
    return found


def _file_url(attachment: RequestAttachment) -> str:
    return url_for("requests_api.attachment", request_id=attachment.request_id, attachment_id=attachment.id)


def detail(req: Request, for_agent: bool) -> dict[str, Any]:
    row = queries.request_row(req, utcnow(), for_agent)
    if for_agent:
        row["booking_snapshot"] = req.booking_snapshot
    row["comments"] = [
        queries.comment_row(comment, files, _file_url)
        for comment, files in queries.conversation(db.session(), req, include_internal=for_agent)
    ]
    return row


# --- rate limit for submissions: per widget identity, else per address -----------------------

def _submitter_key() -> str:
    return rate_limit_key()  # the verified practice user, not the header's text (helpdesk.core.auth)


def rate_limit() -> str:
    return str(current_app.config["REQUESTS_RATE_LIMIT"])


# --- endpoints --------------------------------------------------------------------------------

@bp.get("")
def list_requests() -> Response:
    caller = current_caller(allow_session=True)
    for_agent = caller.agent is not None
    scope = None if for_agent else queries.requester_clause(caller.user)
    page = int_arg("page", 1, 1, 100_000)
    per_page = int_arg("per_page", 25, 1, queries.MAX_PER_PAGE)
    now = utcnow()
    rows, total = queries.list_requests(db.session(), scope, parse_filters(for_agent), now, page, per_page,
                                        agent=caller.agent)
    return jsonify({"requests": [queries.request_row(r, now, for_agent) for r in rows], "total": total,
                    "page": page, "per_page": per_page})


@bp.post("")
@limiter.limit(rate_limit, key_func=_submitter_key)
def create_request() -> tuple[Response, int]:
    caller = current_caller()
    if caller.user is None:
        raise Forbidden("practice_users_only", "requests are submitted with a widget token")
    if request.mimetype == "multipart/form-data":
        fields: dict[str, Any] = request.form.to_dict()
        uploads = [service.Upload(f.filename or "", f.read()) for f in request.files.getlist("attachments")]
    else:
        fields = json_object()
        uploads = []
        _reject_unknown(fields, {"subject", "description", "email", "booking_reference"})
    submission = service.Submission(
        subject=fields.get("subject"), description=fields.get("description"),  # type: ignore[arg-type]
        email=fields.get("email") or "", booking_reference=fields.get("booking_reference") or "",
        uploads=uploads,
    )
    req = service.submit_request(db.session(), service.Requester.for_practice_user(caller.user),
                                 submission, "api", utcnow())
    db.session.commit()
    body = detail(req, for_agent=False)
    body["url"] = url_for("hc_requests.show", request_id=req.id)
    response = jsonify(body)
    response.headers["Location"] = url_for("requests_api.get_request", request_id=req.id)
    return response, 201


@bp.get("/<int:request_id>")
def get_request(request_id: int) -> Response:
    caller = current_caller(allow_session=True)
    return jsonify(detail(_visible(caller, request_id), caller.agent is not None))


@bp.patch("/<int:request_id>")
def update_request(request_id: int) -> Response:
    caller = current_caller()
    req = _visible(caller, request_id)  # a practice user learns nothing about others' requests: 404 first
    if caller.agent is None:
        raise Forbidden("agents_only", "only agents can change a request's status, assignee or priority")
    payload = json_object()
    _reject_unknown(payload, {"status", "priority", "assignee_id"})
    service.update_request(
        db.session(), req, caller.agent, utcnow(), status=payload.get("status"), priority=payload.get("priority"),
        assignee_id=payload["assignee_id"] if "assignee_id" in payload else service.UNSET,
    )
    return jsonify(detail(req, for_agent=True))


@bp.post("/<int:request_id>/comments")
def add_comment(request_id: int) -> tuple[Response, int]:
    caller = current_caller()
    req = _visible(caller, request_id)
    payload = json_object()
    _reject_unknown(payload, {"body", "public", "status"})
    public = payload.get("public", True)
    if not isinstance(public, bool):
        raise InvalidInput("invalid_field", "public must be true or false", field="public")
    if caller.agent is not None:
        actor: service.Actor = caller.agent
    else:
        assert caller.user is not None
        if "status" in payload:
            raise Forbidden("agents_only", "only agents can set a status with a comment")
        actor = service.Requester.for_practice_user(caller.user, req.requester_email)
    comment = service.add_comment(db.session(), req, actor, payload.get("body"), public=public,
                                  status=payload.get("status"), now=utcnow())
    return jsonify(queries.comment_row(comment, [], _file_url)), 201


@bp.get("/<int:request_id>/attachments/<int:attachment_id>")
def attachment(request_id: int, attachment_id: int) -> Response:
    caller = current_caller(allow_session=True)
    req = _visible(caller, request_id)
    found = queries.attachment_for(db.session(), req, attachment_id, include_internal=caller.agent is not None)
    if found is None:
        raise not_found("attachment")
    return file_response(found)


def file_response(found: RequestAttachment) -> Response:
    """Serve an attachment as the type it was checked to be; never sniffed or run by the browser."""
    response = Response(attachment_store().open(found.storage_key), mimetype=found.content_type)
    disposition = "inline" if found.content_type.startswith("image/") else "attachment"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{found.filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
