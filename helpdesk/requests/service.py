"""Verbs on requests: submit, comment (reply or internal note), update, solve, close.

Every verb takes the session and the actor explicitly, validates everything before it writes
anything (bad input stores nothing), queues the emails and webhooks it causes in the same
transaction, and never commits: the HTTP edge or the CLI does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from helpdesk.bookings.queries import diagnose_booking
from helpdesk.core.agents import Agent
from helpdesk.core.auth import PracticeUser
from helpdesk.core.clock import elapsed_seconds
from helpdesk.core.errors import Conflict, DomainError, InvalidInput, TooLarge
from helpdesk.core.text import EMAIL_RE, clean_text
from helpdesk.core.web import absolute_url
from helpdesk.outbox.service import enqueue_email, enqueue_webhooks
from helpdesk.requests import storage
from helpdesk.requests.models import (
    PRIORITIES,
    STATUSES,
    Request,
    RequestAttachment,
    RequestComment,
)

SUBJECT_MAX = 200
BODY_MAX = 20_000
NAME_MAX = 200
REFERENCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
FIRST_REPLY_HOURS = {"urgent": 1, "high": 4, "normal": 8, "low": 24}
NEXT_REPLY_HOURS = {"urgent": 2, "high": 8, "normal": 24, "low": 48}
# Where each status may go; "closed" is final (a follow-up is a new request).
TRANSITIONS = {
    "new": {"open", "pending", "solved"},
    "open": {"pending", "solved"},
    "pending": {"open", "solved"},
    "solved": {"open", "closed"},
    "closed": set(),
}
ACCESS_SALT = "helpdesk.request-access"
# Each field as the request form labels it, so a message read next to a field names it the same way.
FIELD_LABELS = {"email": "Email address", "name": "Your name", "subject": "Subject", "description": "Description",
                "booking_reference": "Booking reference", "attachments": "Attachments"}
T = TypeVar("T")


@dataclass(frozen=True)
class Requester:
    """Who asks on the requester side: a practice user (verified token) or an anonymous email."""

    email: str
    name: str = ""
    practice_user: PracticeUser | None = None

    @classmethod
    def for_practice_user(cls, user: PracticeUser, email: str = "") -> Requester:
        return cls(email=user.email or email, name=user.name, practice_user=user)


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True)
class Submission:
    subject: str
    description: str
    email: str = ""
    name: str = ""
    booking_reference: str = ""
    uploads: Sequence[Upload] = ()


Actor = Agent | Requester


# --- validation -------------------------------------------------------------------------------

class FieldProblems:
    """Every field's problem at once: a form shows each beside its field, the API lists them all.

    The error raised is the first problem's (its code, field and status), with ``fields`` naming
    every invalid field, and a message that says them all.
    """

    def __init__(self) -> None:
        self.found: list[DomainError] = []

    def check(self, work: Callable[[], T], fallback: T) -> T:
        try:
            return work()
        except DomainError as exc:
            self.found.append(exc)
            return fallback

    def raise_if_any(self) -> None:
        if not self.found:
            return
        first = self.found[0]
        listed = [{"field": e.extra.get("field"), "code": e.code, "message": e.message} for e in self.found]
        raise type(first)(first.code, "; ".join(e.message for e in self.found), field=first.extra.get("field"),
                          fields=listed)


def clean_email(value: Any) -> str:
    email = clean_text(value, "email", 320, label=FIELD_LABELS["email"]).lower()
    if not EMAIL_RE.match(email):
        raise InvalidInput("invalid_email", "Enter an email address like name@example.com", field="email")
    return email


def _clean_field(value: Any, field: str, limit: int, required: bool = True) -> str:
    return clean_text(value, field, limit, required, label=FIELD_LABELS[field])


def check_uploads(uploads: Sequence[Upload]) -> list[tuple[Upload, str]]:
    """Every file is an allowed type by its content and small enough, or nothing is accepted."""
    uploads = [u for u in uploads if u.filename or u.data]
    if len(uploads) > storage.MAX_ATTACHMENTS:
        raise InvalidInput("too_many_attachments", f"Attach at most {storage.MAX_ATTACHMENTS} files",
                           field="attachments")
    checked = []
    for upload in uploads:
        if len(upload.data) > storage.MAX_ATTACHMENT_BYTES:
            raise TooLarge("attachment_too_large",
                           f"{upload.filename or 'An attachment'} is larger than 10 MB", field="attachments")
        if not upload.data:
            raise InvalidInput("empty_attachment", f"{upload.filename or 'An attachment'} is empty",
                               field="attachments")
        content_type = storage.sniff(upload.data)
        if content_type is None:
            raise InvalidInput("attachment_type",
                               f"{upload.filename or 'An attachment'} is not a {storage.ALLOWED_TYPES} "
                               "(checked by its content, not its name)", field="attachments")
        checked.append((upload, content_type))
    return checked


def _store_uploads(session: Session, req: Request, comment: RequestComment,
                   checked: list[tuple[Upload, str]]) -> None:
    store = storage.attachment_store()
    for upload, content_type in checked:
        saved = store.save(upload.data)
        session.add(RequestAttachment(
            request_id=req.id, comment_id=comment.id, filename=storage.safe_filename(upload.filename, content_type),
            content_type=content_type, size=saved.size, sha256=saved.sha256, storage_key=saved.key,
        ))


# --- reply deadlines --------------------------------------------------------------------------

def _set_due(req: Request) -> None:
    if req.awaiting_since is None or req.due_kind is None:
        req.due_at = None
        return
    hours = (FIRST_REPLY_HOURS if req.due_kind == "first_reply" else NEXT_REPLY_HOURS)[req.priority]
    req.due_at = req.awaiting_since + timedelta(hours=hours)


def _awaits_reply(req: Request, now: datetime) -> None:
    """The requester is waiting for an agent: start the first- or next-reply clock."""
    if req.awaiting_since is None:
        req.awaiting_since = now
        req.due_kind = "next_reply" if req.first_replied_at else "first_reply"
    _set_due(req)


def _answered(req: Request) -> None:
    req.awaiting_since = None
    req.due_kind = None
    req.due_at = None


# --- links and notifications ------------------------------------------------------------------

def access_token(req: Request) -> str:
    """A signed link key for the requester: names the request and the email it belongs to."""
    serializer = URLSafeSerializer(current_app.config["SECRET_KEY"], salt=ACCESS_SALT)
    return str(serializer.dumps({"r": req.id, "e": req.requester_email.lower()}))


def request_for_token(session: Session, token: str) -> Request | None:
    serializer = URLSafeSerializer(current_app.config["SECRET_KEY"], salt=ACCESS_SALT)
    try:
        claims = serializer.loads(token)
    except BadSignature:
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("r"), int):
        return None
    req = session.get(Request, claims["r"])
    if req is None or req.requester_email.lower() != claims.get("e"):
        return None
    return req


def _thread(req: Request) -> str:
    return f"request-{req.id}"


def _email_subject(req: Request, what: str = "") -> str:
    return f"[Request #{req.id}] {what}{req.subject}"


def _notify_requester(session: Session, req: Request, template: str, what: str, **context: Any) -> None:
    from helpdesk.requests.mail import (
        outgoing,  # the email channel: Reply-To and Message-ID threading
    )

    link = absolute_url("hc_requests.access", token=access_token(req))
    row = enqueue_email(session, req.requester_email, _email_subject(req, what), f"requests/email/{template}",
                        {"req": req, "link": link, **context}, thread=_thread(req), headers=outgoing.reply_headers(req))
    outgoing.record_sent(session, row, req)


def _notify_agents(session: Session, req: Request, template: str, what: str, agents: Sequence[Agent],
                   **context: Any) -> None:
    from helpdesk.requests.mail import outgoing

    link = absolute_url("console_requests.show", request_id=req.id)
    for agent in agents:
        row = enqueue_email(session, agent.email, _email_subject(req, what), f"requests/email/{template}",
                            {"req": req, "link": link, "agent": agent, **context}, thread=_thread(req))
        outgoing.record_sent(session, row, None)  # ours (a loop if it comes back), but no thread to reply into


def _active_agents(session: Session) -> list[Agent]:
    return list(session.scalars(select(Agent).where(Agent.is_active.is_(True)).order_by(Agent.id)))


def webhook_payload(req: Request) -> dict[str, Any]:
    """What integrators see of a request: never the conversation, so never an internal note."""
    return {
        "id": req.id, "subject": req.subject, "status": req.status, "priority": req.priority,
        "channel": req.channel, "practice_id": req.practice_id, "requester_email": req.requester_email,
        "booking_reference": req.booking_reference,
        "assignee": {"id": req.assignee.id, "email": req.assignee.email} if req.assignee else None,
        "created_at": req.created_at.isoformat(), "updated_at": req.updated_at.isoformat(),
        "due_at": req.due_at.isoformat() if req.due_at else None,
    }


def _updated(session: Session, req: Request, changes: dict[str, Any], now: datetime) -> None:
    req.updated_at = now
    session.flush()
    enqueue_webhooks(session, "request.updated", {"request": webhook_payload(req), "changes": changes})


# --- submit -----------------------------------------------------------------------------------

def _booking_snapshot(session: Session, requester: Requester, reference: str, now: datetime,
                      practice_id: str | None = None) -> dict[str, Any] | None:
    if not reference:
        return None
    if not REFERENCE_RE.match(reference):
        raise InvalidInput("invalid_field", "A booking reference has only letters, digits and . _ / - (no spaces)",
                           field="booking_reference")
    user = requester.practice_user
    practice_id = user.practice_id if user else practice_id
    if practice_id is None:
        return None  # an anonymous requester names no practice: the reference is kept as text only
    verdict = diagnose_booking(session, practice_id, reference, now, reveal=False)
    if verdict is None:
        raise InvalidInput("unknown_booking", f"Your practice has no booking with reference {reference}",
                           field="booking_reference")
    return json.loads(json.dumps(verdict, default=str))


def submit_request(session: Session, requester: Requester, submission: Submission, channel: str,
                   now: datetime, practice_id: str | None = None) -> Request:
    """Open a request. ``practice_id`` (without a practice user) is a practice the caller has already
    matched the requester to, e.g. by the sender of an email (helpdesk/requests/mail).

    Every field is checked before any is refused, so the form can say all that needs changing."""
    problems = FieldProblems()
    email = problems.check(lambda: clean_email(requester.email or submission.email), "")
    name = problems.check(lambda: _clean_field(requester.name or submission.name, "name", NAME_MAX, False), "")
    subject = problems.check(lambda: " ".join(_clean_field(submission.subject, "subject", SUBJECT_MAX).split()),
                             "")  # one line: it heads emails
    description = problems.check(lambda: _clean_field(submission.description, "description", BODY_MAX), "")
    reference = problems.check(lambda: _clean_field(submission.booking_reference, "booking_reference", 64, False),
                               "")
    snapshot = problems.check(lambda: _booking_snapshot(session, requester, reference, now, practice_id), None)
    checked = problems.check(lambda: check_uploads(submission.uploads), [])
    problems.raise_if_any()
    user = requester.practice_user

    req = Request(
        subject=subject, status="new", priority="normal", channel=channel,
        practice_id=user.practice_id if user else practice_id, requester_user_id=user.user_id if user else None,
        requester_email=email, requester_name=name, booking_reference=reference or None,
        booking_snapshot=snapshot, created_at=now, updated_at=now,
    )
    _awaits_reply(req, now)
    session.add(req)
    session.flush()
    comment = RequestComment(request_id=req.id, author_kind="requester", author_name=name or email,
                             body=description, public=True, created_at=now)
    session.add(comment)
    session.flush()
    _store_uploads(session, req, comment, checked)

    _notify_requester(session, req, "confirmation", "", comment=comment)
    _notify_agents(session, req, "agent_new", "New request: ", _active_agents(session), comment=comment)
    enqueue_webhooks(session, "request.created", {"request": webhook_payload(req)})
    return req


# --- the conversation -------------------------------------------------------------------------

def add_comment(session: Session, req: Request, actor: Actor, body: Any, public: bool = True,
                uploads: Sequence[Upload] = (), status: str | None = None, now: datetime | None = None) -> RequestComment:
    """A reply (public) or an internal note (agents only). Requesters' comments are always public.

    ``status`` (agents only) submits the reply "as" a status, e.g. pending while the requester answers.
    """
    assert now is not None
    text = clean_text(body, "body", BODY_MAX)
    checked = check_uploads(uploads)
    if req.status == "closed":
        raise Conflict("request_closed", "this request is closed; please submit a new request")
    is_agent = isinstance(actor, Agent)
    if is_agent and status is not None:
        _check_transition(req, status)
    public = bool(public) if is_agent else True

    comment = RequestComment(
        request_id=req.id, author_kind="agent" if is_agent else "requester",
        author_agent_id=actor.id if is_agent else None,
        author_name=actor.name if is_agent else (actor.name or actor.email), body=text, public=public,
        created_at=now,
    )
    session.add(comment)
    session.flush()
    _store_uploads(session, req, comment, checked)
    changes: dict[str, Any] = {}
    previous = req.status

    if is_agent:
        if public:
            if req.first_replied_at is None:
                req.first_replied_at = now
                req.first_reply_seconds = elapsed_seconds(req.created_at, now)
            _answered(req)
            _notify_requester(session, req, "reply", "New reply: ", comment=comment)
        target = status or ("open" if req.status == "new" else None)
        if target and target != req.status:
            _apply_status(req, target, now)
    else:
        if req.status in ("pending", "solved"):
            _apply_status(req, "open", now)
        _awaits_reply(req, now)
        recipients = [req.assignee] if req.assignee and req.assignee.is_active else _active_agents(session)
        _notify_agents(session, req, "agent_reply", "Requester replied: ", recipients, comment=comment)

    if req.status != previous:
        changes["status"] = {"from": previous, "to": req.status}
    if public:
        changes["comment"] = {"id": comment.id, "author_kind": comment.author_kind}
    if changes:
        _updated(session, req, changes, now)
    else:
        req.updated_at = now  # an internal note alone tells integrators nothing
    return comment


# --- status, priority, assignment -------------------------------------------------------------

def _check_transition(req: Request, status: str) -> None:
    if status not in STATUSES:
        raise InvalidInput("invalid_status", f"status must be one of {', '.join(STATUSES)}", field="status")
    if status != req.status and status not in TRANSITIONS[req.status]:
        raise Conflict("invalid_transition", f"a {req.status} request cannot become {status}", field="status")


def _apply_status(req: Request, status: str, now: datetime) -> None:
    req.status = status
    if status in ("pending", "solved", "closed"):
        _answered(req)  # nobody owes the requester a reply now
    if status == "solved":
        req.solved_at = now
        req.resolution_seconds = elapsed_seconds(req.created_at, now)
    elif status == "closed":
        req.closed_at = now
    elif status == "open":
        req.solved_at = None
        req.resolution_seconds = None


UNSET: Any = object()


def update_request(session: Session, req: Request, agent: Agent, now: datetime, status: str | None = None,
                   priority: str | None = None, assignee_id: Any = UNSET) -> dict[str, Any]:
    """Change status, priority and assignee (agents only); returns what changed."""
    if status is not None:
        _check_transition(req, status)
    if priority is not None and priority not in PRIORITIES:
        raise InvalidInput("invalid_priority", f"priority must be one of {', '.join(PRIORITIES)}", field="priority")
    assignee: Agent | None = None
    if assignee_id is not UNSET and assignee_id is not None:
        if isinstance(assignee_id, bool) or not isinstance(assignee_id, int):
            raise InvalidInput("invalid_assignee", "assignee_id must be an agent id or null", field="assignee_id")
        assignee = session.get(Agent, assignee_id)
        if assignee is None or not assignee.is_active:
            raise InvalidInput("invalid_assignee", f"no active agent with id {assignee_id}", field="assignee_id")
    if req.status == "closed" and (priority or assignee_id is not UNSET):
        raise Conflict("request_closed", "a closed request cannot be changed")

    changes: dict[str, Any] = {}
    if status is not None and status != req.status:
        changes["status"] = {"from": req.status, "to": status}
        _apply_status(req, status, now)
    if priority is not None and priority != req.priority:
        changes["priority"] = {"from": req.priority, "to": priority}
        req.priority = priority
        _set_due(req)
    if assignee_id is not UNSET and assignee_id != req.assignee_id:
        changes["assignee_id"] = {"from": req.assignee_id, "to": assignee_id}
        req.assignee_id = assignee_id
        req.assignee = assignee
    if changes:
        _updated(session, req, changes, now)
    return changes


def solve_by_requester(session: Session, req: Request, requester: Requester, now: datetime) -> None:
    if req.status == "closed":
        raise Conflict("request_closed", "this request is already closed")
    if req.status != "solved":
        previous = req.status
        _apply_status(req, "solved", now)
        _updated(session, req, {"status": {"from": previous, "to": "solved"}, "by": "requester"}, now)


def close_solved(session: Session, now: datetime, days: int) -> list[int]:
    """Close requests solved at least ``days`` ago (the scheduler's ``requests close-solved``)."""
    due = list(session.scalars(
        select(Request).where(Request.status == "solved", Request.solved_at <= now - timedelta(days=days))
        .order_by(Request.id).with_for_update(skip_locked=True, of=Request)
    ))
    for req in due:
        _apply_status(req, "closed", now)
        _updated(session, req, {"status": {"from": "solved", "to": "closed"}, "by": "schedule"}, now)
    return [req.id for req in due]
