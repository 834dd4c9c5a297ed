"""Request pages: the Help Center side (submit, My requests) and the agent console's queue.

Parse the form, call ``service``, commit, render. Validation errors re-render the form with
the message and store nothing; the anonymous form has CSRF, a rate limit and a honeypot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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

from helpdesk.bookings import queries as booking_queries
from helpdesk.bookings.models import Practice
from helpdesk.core import db
from helpdesk.core.audit import AuditAction, audit_request
from helpdesk.core.auth import login_required, session_practice_user
from helpdesk.core.canned import (
    CannedReply,
    add_canned_reply,
    canned_replies,
    delete_canned_reply,
)
from helpdesk.core.clock import utcnow
from helpdesk.core.errors import DomainError, http_status
from helpdesk.core.extensions import limiter
from helpdesk.requests import presenters, queries, service
from helpdesk.requests.api import file_response, parse_filters, rate_limit
from helpdesk.requests.models import PRIORITIES, STATUSES, Request
from helpdesk.requests.storage import ALLOWED_TYPES, MAX_ATTACHMENTS

hc = Blueprint("hc_requests", __name__, url_prefix="/hc/requests", template_folder="templates",
               static_folder="static", static_url_path="/static")
console = Blueprint("console_requests", __name__, url_prefix="/console/requests", template_folder="templates")

ACCESS_KEY = "request_access"
MAX_GRANTS = 50
HONEYPOT = "website"
STATUS_TONES = {"new": "warn", "open": "bad", "pending": "muted", "solved": "ok", "closed": "muted"}
PRIORITY_TONES = {"low": "muted", "normal": "muted", "high": "warn", "urgent": "bad"}


@hc.app_context_processor
def _request_vocabulary() -> dict[str, Any]:
    return {"status_tones": STATUS_TONES, "priority_tones": PRIORITY_TONES, "statuses": STATUSES,
            "priorities": PRIORITIES}


@hc.context_processor
def _help_center_frame() -> dict[str, Any]:
    """What the Help Center's layout (kb/base.html) asks of a page."""
    return {"submit_request_url": lambda: url_for("hc_requests.new"), "session_user": session_practice_user()}


def _uploads(field: str = "attachments") -> list[service.Upload]:
    return [service.Upload(f.filename or "", f.read()) for f in request.files.getlist(field) if f.filename]


# === Help Center side ===========================================================================

def _granted() -> list[int]:
    stored = session.get(ACCESS_KEY, [])
    return [i for i in stored if isinstance(i, int)] if isinstance(stored, list) else []


def _grant(request_id: int) -> None:
    granted = [i for i in _granted() if i != request_id]
    session[ACCESS_KEY] = [request_id, *granted][:MAX_GRANTS]


@hc.route("/new", methods=["GET", "POST"])
@limiter.limit(rate_limit, methods=["POST"])
def new() -> Any:
    user = session_practice_user()
    values = {key: request.form.get(key, "") for key in ("email", "name", "subject", "description", "booking_reference")}
    if request.method == "GET":
        values["subject"] = request.args.get("subject", "")[:200]
        return _new_form(values, user)
    if request.form.get(HONEYPOT):
        return _new_form(values, user, [{"field": None, "message": "Your request could not be accepted. If you are a "
                                         "person, leave the field labelled “Leave this empty” blank and try again."}],
                         status=400)
    requester = (service.Requester.for_practice_user(user, values["email"]) if user
                 else service.Requester(email=values["email"], name=values["name"]))
    uploads = _uploads()
    submission = service.Submission(subject=values["subject"], description=values["description"],
                                    email=values["email"], name=values["name"],
                                    booking_reference=values["booking_reference"], uploads=uploads)
    try:
        req = service.submit_request(db.session(), requester, submission, "widget" if user else "web", utcnow())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        problems = exc.extra.get("fields") or [{"field": exc.extra.get("field"), "message": exc.message}]
        return _new_form(values, user, problems, http_status(exc), reattach=bool(uploads))
    _grant(req.id)
    flash(f"Thanks: request #{req.id} is with our support team. We emailed a confirmation to {req.requester_email}.")
    return redirect(url_for("hc_requests.show", request_id=req.id), 303)


def _new_form(values: dict[str, str], user: Any, problems: list[dict[str, Any]] | None = None, status: int = 200,
              reattach: bool = False) -> tuple[str, int]:
    """The form with what was typed, and each problem beside its field (and listed above the form)."""
    problems = problems or []
    errors = {p["field"]: p["message"] for p in reversed(problems) if p.get("field")}  # the first per field
    return render_template("requests/new.html", values=values, user=user, problems=problems, errors=errors,
                           reattach=reattach, max_attachments=MAX_ATTACHMENTS, allowed_types=ALLOWED_TYPES), status


def _practice_timezone(practice_id: str | None) -> str:
    """A practice's staff read times in its time zone; an anonymous requester's stay in UTC."""
    practice = db.session.get(Practice, practice_id) if practice_id else None
    return practice.timezone if practice else "UTC"


@hc.get("")
def mine() -> str:
    user = session_practice_user()
    granted = _granted()
    rows: list[Request] = []
    total = 0
    if user is not None or granted:
        page = max(1, request.args.get("page", 1, type=int) or 1)
        rows, total = queries.list_requests(db.session(), queries.requester_clause(user, granted),
                                            parse_filters(for_agent=False), utcnow(), page, 25)
    return render_template("requests/mine.html", rows=rows, total=total, user=user,
                           q=request.args.get("q", "")[:200], tz=_practice_timezone(user.practice_id if user else None))


def _requester_request(request_id: int) -> Request:
    found = queries.get_for_requester(db.session(), request_id, session_practice_user(), _granted())
    if found is None:
        abort(404)
    return found


def _requester_for(req: Request) -> service.Requester:
    user = session_practice_user()
    if user is not None and req.practice_id == user.practice_id:
        return service.Requester.for_practice_user(user, req.requester_email)
    return service.Requester(email=req.requester_email, name=req.requester_name)


@hc.get("/<int:request_id>")
def show(request_id: int) -> str:
    req = _requester_request(request_id)
    # No Help Center page checks a booking, so a practice reads its references as plain text.
    return render_template("requests/show.html", req=req, tz=_practice_timezone(req.practice_id),
                           thread=queries.conversation(db.session(), req, include_internal=False),
                           linked=presenters.ReferenceLinks(),
                           max_attachments=MAX_ATTACHMENTS, allowed_types=ALLOWED_TYPES)


@hc.post("/<int:request_id>/comments")
def reply(request_id: int) -> Response:
    req = _requester_request(request_id)
    try:
        service.add_comment(db.session(), req, _requester_for(req), request.form.get("body"), uploads=_uploads(),
                            now=utcnow())
        flash("Your reply was sent to the support team.")
    except DomainError as exc:
        db.session.rollback()
        flash(f"Your reply was not sent: {exc.message}", "error")
    return redirect(url_for("hc_requests.show", request_id=req.id) + "#reply", 303)  # type: ignore[return-value]


@hc.post("/<int:request_id>/solve")
def solve(request_id: int) -> Response:
    req = _requester_request(request_id)
    service.solve_by_requester(db.session(), req, _requester_for(req), utcnow())
    flash("Marked as solved. If you reply, we will reopen it.")
    return redirect(url_for("hc_requests.show", request_id=req.id), 303)  # type: ignore[return-value]


@hc.get("/access/<token>")
def access(token: str) -> Response:
    req = service.request_for_token(db.session(), token)
    if req is None:
        abort(404, description="This link is not valid. Use the latest email about your request.")
    _grant(req.id)
    return redirect(url_for("hc_requests.show", request_id=req.id), 303)  # type: ignore[return-value]


@hc.get("/<int:request_id>/attachments/<int:attachment_id>")
def hc_attachment(request_id: int, attachment_id: int) -> Response:
    found = queries.attachment_for(db.session(), _requester_request(request_id), attachment_id, include_internal=False)
    if found is None:
        abort(404)
    return file_response(found)


# === Agent console ==============================================================================

def _attempt(work: Callable[[], str]) -> None:
    """Call a service at the edge: commit and flash its message, or roll back and flash why not."""
    try:
        message = work()
        flash(message)
    except DomainError as exc:
        db.session.rollback()
        flash(f"Not saved: {exc.message}", "error")




def _queue_url(**changes: Any) -> str:
    args: dict[str, Any] = {**request.args.to_dict(), **changes}
    return url_for("console_requests.queue", **{k: v for k, v in args.items() if v not in (None, "")})


@console.get("")
@login_required
def queue() -> str:
    filters = parse_filters(for_agent=True)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    now = utcnow()
    rows, total = queries.list_requests(db.session(), None, filters, now, page, 25, agent=g.agent)
    return render_template(
        "requests/queue.html", rows=rows, total=total, page=page, per_page=25, filters=filters, now=now,
        counts=queries.view_counts(db.session(), g.agent, now), views=queries.VIEWS, view_titles=queries.VIEW_TITLES,
        agents=queries.active_agents(db.session()), is_overdue=queries.is_overdue, queue_url=_queue_url,
        practice_names=queries.practice_names(db.session(), [r.practice_id for r in rows]),
    )


def _agent_request(request_id: int) -> Request:
    found = db.session.get(Request, request_id)
    if found is None:
        abort(404, description="There is no request with that number.")
    return found


def _diagnostics(req: Request, texts: list[str]) -> dict[str, Any]:
    """The practice's health and the named booking's live diagnosis, beside the request, and the
    booking references in ``texts`` linked to their diagnosis (audited)."""
    practice = db.session.get(Practice, req.practice_id) if req.practice_id else None
    if practice is None:
        return {"practice": None, "linked": presenters.ReferenceLinks()}
    now = utcnow()
    verdict = (booking_queries.diagnose_booking(db.session(), practice.id, req.booking_reference, now)
               if req.booking_reference else None)
    audit_request(AuditAction.VIEW_DIAGNOSTICS, practice.id, f"request:{req.id}")

    def page_url(**kw: Any) -> str:
        return url_for("practices.practice", practice_id=practice.id, **{k: v for k, v in kw.items() if v})

    return {
        "practice": practice,
        "tz": practice.timezone,
        "health": booking_queries.practice_health(db.session(), practice, utcnow(), current_app.config),
        "diagnosis": verdict,
        "page_url": page_url,
        "linked": presenters.reference_links(db.session(), practice.id, texts, lambda ref: page_url(booking=ref)),
    }


@console.get("/<int:request_id>", endpoint="show")
@login_required
def agent_show(request_id: int) -> str:
    req = _agent_request(request_id)
    thread = queries.conversation(db.session(), req, include_internal=True)
    context = _diagnostics(req, [req.subject, *(comment.body for comment, _ in thread)])
    return render_template(
        "requests/agent_show.html", req=req, now=utcnow(), is_overdue=queries.is_overdue, thread=thread,
        agents=queries.active_agents(db.session()), transitions=service.TRANSITIONS,
        canned=canned_replies(db.session()),
        max_attachments=MAX_ATTACHMENTS, allowed_types=ALLOWED_TYPES, **context,
    )


@console.post("/<int:request_id>/comments")
@login_required
def comment(request_id: int) -> Response:
    req = _agent_request(request_id)
    public = request.form.get("visibility", "public") != "internal"

    def reply() -> str:
        service.add_comment(db.session(), req, g.agent, request.form.get("body"), public=public,
                            uploads=_uploads(), status=request.form.get("status") or None, now=utcnow())
        return "Reply sent to the requester." if public else "Internal note added."

    _attempt(reply)
    return redirect(url_for("console_requests.show", request_id=req.id), 303)  # type: ignore[return-value]


@console.post("/<int:request_id>")
@login_required
def update(request_id: int) -> Response:
    req = _agent_request(request_id)
    raw_assignee = request.form.get("assignee_id", "keep")
    assignee: Any = service.UNSET
    if raw_assignee == "me":
        assignee = g.agent.id
    elif raw_assignee == "":
        assignee = None
    elif raw_assignee.isdigit():
        assignee = int(raw_assignee)

    def change() -> str:
        changes = service.update_request(db.session(), req, g.agent, utcnow(),
                                         status=request.form.get("status") or None,
                                         priority=request.form.get("priority") or None, assignee_id=assignee)
        return "Request updated." if changes else "Nothing changed."

    _attempt(change)
    return redirect(url_for("console_requests.show", request_id=req.id), 303)  # type: ignore[return-value]


@console.get("/<int:request_id>/attachments/<int:attachment_id>")
@login_required
def agent_attachment(request_id: int, attachment_id: int) -> Response:
    found = queries.attachment_for(db.session(), _agent_request(request_id), attachment_id, include_internal=True)
    if found is None:
        abort(404)
    return file_response(found)


@console.get("/canned")
@login_required
def canned() -> str:
    replies = canned_replies(db.session())
    return render_template("requests/canned.html", replies=replies)


@console.post("/canned")
@login_required
def canned_create() -> Response:
    def create() -> str:
        add_canned_reply(db.session(), g.agent, request.form.get("title"), request.form.get("body"))
        return "Canned reply saved."

    _attempt(create)
    return redirect(url_for("console_requests.canned"), 303)  # type: ignore[return-value]


@console.post("/canned/<int:reply_id>/delete")
@login_required
def canned_delete(reply_id: int) -> Response:
    delete_canned_reply(db.session(), g.agent, db.session.get(CannedReply, reply_id))
    flash("Canned reply deleted.")
    return redirect(url_for("console_requests.canned"), 303)  # type: ignore[return-value]
