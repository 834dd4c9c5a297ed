"""Read paths: who may see which request, the agent queues, search, and the conversation.

A requester (practice user or anonymous with a signed link) only ever reaches requests through
``requester_clause``; internal notes are filtered out here, not in templates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select
from sqlalchemy.orm import Session

from helpdesk.bookings.models import Booking, Practice
from helpdesk.core.agents import Agent
from helpdesk.core.auth import PracticeUser
from helpdesk.requests.models import Request, RequestAttachment, RequestComment

ACTIVE = ("new", "open", "pending")
VIEWS = ("unsolved", "new", "open", "pending", "unassigned", "mine", "overdue", "solved", "closed", "all")
VIEW_TITLES = {
    "unsolved": "Unsolved", "new": "New", "open": "Open", "pending": "Pending", "unassigned": "Unassigned",
    "mine": "Assigned to me", "overdue": "Overdue", "solved": "Solved", "closed": "Closed", "all": "All requests",
}
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class RequestFilters:
    view: str = "unsolved"
    status: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    assignee_id: int | None = None
    practice_id: str | None = None
    q: str = ""


def requester_clause(user: PracticeUser | None, granted_ids: Sequence[int] = ()) -> ColumnElement[bool]:
    """The requests a requester may see: their own (a practice admin: the practice's), and any
    opened with a signed link in this browser."""
    options: list[ColumnElement[bool]] = []
    if user is not None:
        mine = Request.practice_id == user.practice_id
        if not user.is_admin:
            mine = and_(mine, Request.requester_user_id == user.user_id)
        options.append(mine)
    if granted_ids:
        options.append(Request.id.in_(list(granted_ids)))
    return or_(*options) if options else false()


def get_for_requester(session: Session, request_id: int, user: PracticeUser | None,
                      granted_ids: Sequence[int] = ()) -> Request | None:
    return session.scalar(select(Request).where(Request.id == request_id, requester_clause(user, granted_ids)))


def is_overdue(req: Request, now: datetime) -> bool:
    return req.due_at is not None and req.due_at < now and req.status in ("new", "open")


def _view_clause(view: str, agent: Agent | None, now: datetime) -> ColumnElement[bool] | None:
    if view in ("new", "open", "pending", "solved", "closed"):
        return Request.status == view
    if view == "unsolved":
        return Request.status.in_(ACTIVE)
    if view == "unassigned":
        return and_(Request.assignee_id.is_(None), Request.status.in_(ACTIVE))
    if view == "mine":
        return and_(Request.assignee_id == (agent.id if agent else -1), Request.status.in_(ACTIVE))
    if view == "overdue":
        return and_(Request.due_at < now, Request.status.in_(("new", "open")))
    return None


def _search_clause(q: str, public_only: bool) -> ColumnElement[bool] | None:
    q = q.strip()
    if not q:
        return None
    needle = q.lower()
    comments = select(RequestComment.id).where(
        RequestComment.request_id == Request.id, func.lower(RequestComment.body).contains(needle, autoescape=True)
    )
    if public_only:
        comments = comments.where(RequestComment.public.is_(True))
    options: list[ColumnElement[bool]] = [
        func.lower(column).contains(needle, autoescape=True)
        for column in (Request.subject, Request.requester_email, Request.requester_name,
                       Request.booking_reference, Request.practice_id)
    ]
    options.append(exists(comments))
    number = re.fullmatch(r"#?(\d{1,9})", q)
    if number:
        options.append(Request.id == int(number.group(1)))
    return or_(*options)


def list_requests(session: Session, scope: ColumnElement[bool] | None, filters: RequestFilters, now: datetime,
                  page: int = 1, per_page: int = 25, agent: Agent | None = None) -> tuple[list[Request], int]:
    """One page of requests within ``scope`` (``None``: all, for agents) and the total that match."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    clauses = [c for c in (
        scope,
        _view_clause(filters.view, agent, now) if agent is not None else None,
        Request.status.in_(filters.status) if filters.status else None,
        Request.priority.in_(filters.priority) if filters.priority else None,
        Request.assignee_id == filters.assignee_id if filters.assignee_id is not None else None,
        Request.practice_id == filters.practice_id if filters.practice_id else None,
        _search_clause(filters.q, public_only=agent is None),
    ) if c is not None]
    query = select(Request).where(*clauses)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if filters.view == "overdue":
        query = query.order_by(Request.due_at, Request.id)
    else:
        query = query.order_by(Request.updated_at.desc(), Request.id.desc())
    rows = list(session.scalars(query.offset((max(page, 1) - 1) * per_page).limit(per_page)))
    return rows, total


def view_counts(session: Session, agent: Agent, now: datetime) -> dict[str, int]:
    counts = {}
    for view in VIEWS:
        clause = _view_clause(view, agent, now)
        query = select(func.count(Request.id))
        counts[view] = session.scalar(query.where(clause) if clause is not None else query) or 0
    return counts


def conversation(session: Session, req: Request, include_internal: bool) -> list[tuple[RequestComment, list[RequestAttachment]]]:
    """The comments in order, each with its attachments; internal notes only when asked for."""
    query = select(RequestComment).where(RequestComment.request_id == req.id)
    if not include_internal:
        query = query.where(RequestComment.public.is_(True))
    comments = list(session.scalars(query.order_by(RequestComment.created_at, RequestComment.id)))
    files: dict[int, list[RequestAttachment]] = {}
    if comments:
        for attachment in session.scalars(
            select(RequestAttachment).where(RequestAttachment.comment_id.in_([c.id for c in comments]))
            .order_by(RequestAttachment.id)
        ):
            files.setdefault(attachment.comment_id or 0, []).append(attachment)
    return [(c, files.get(c.id, [])) for c in comments]


def attachment_for(session: Session, req: Request, attachment_id: int, include_internal: bool) -> RequestAttachment | None:
    query = select(RequestAttachment).join(RequestComment, RequestComment.id == RequestAttachment.comment_id).where(
        RequestAttachment.id == attachment_id, RequestAttachment.request_id == req.id
    )
    if not include_internal:
        query = query.where(RequestComment.public.is_(True))
    return session.scalar(query)


def practice_names(session: Session, practice_ids: Sequence[str | None]) -> dict[str, str]:
    ids = sorted({p for p in practice_ids if p})
    if not ids:
        return {}
    return {pid: name for pid, name in session.execute(select(Practice.id, Practice.name).where(Practice.id.in_(ids)))}


def booking_references(session: Session, practice_id: str, keys: Sequence[str]) -> dict[str, str]:
    """Which of ``keys`` (lower-cased references) are the practice's bookings: key to reference as stored."""
    if not keys:
        return {}
    found = session.execute(select(Booking.reference_key, Booking.reference).where(
        Booking.practice_id == practice_id, Booking.reference_key.in_(sorted(set(keys)))))
    return {key: reference for key, reference in found}


def active_agents(session: Session) -> list[Agent]:
    return list(session.scalars(select(Agent).where(Agent.is_active.is_(True)).order_by(Agent.name)))


# --- JSON shapes ------------------------------------------------------------------------------

def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def request_row(req: Request, now: datetime, for_agent: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": req.id,
        "subject": req.subject,
        "status": req.status,
        "channel": req.channel,
        "practice_id": req.practice_id,
        "requester": {"email": req.requester_email, "name": req.requester_name, "user_id": req.requester_user_id},
        "booking_reference": req.booking_reference,
        "created_at": _iso(req.created_at),
        "updated_at": _iso(req.updated_at),
        "solved_at": _iso(req.solved_at),
        "closed_at": _iso(req.closed_at),
    }
    if for_agent:
        row.update({
            "priority": req.priority,
            "assignee": {"id": req.assignee.id, "name": req.assignee.name, "email": req.assignee.email}
            if req.assignee else None,
            "first_replied_at": _iso(req.first_replied_at),
            "due": {"kind": req.due_kind, "at": _iso(req.due_at), "overdue": is_overdue(req, now)}
            if req.due_at else None,
        })
    return row


def comment_row(comment: RequestComment, attachments: Sequence[RequestAttachment], url_for_file: Any) -> dict[str, Any]:
    return {
        "id": comment.id,
        "author": {"kind": comment.author_kind, "name": comment.author_name, "agent_id": comment.author_agent_id},
        "body": comment.body,
        "public": comment.public,
        "created_at": _iso(comment.created_at),
        "attachments": [
            {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size,
             "url": url_for_file(a)} for a in attachments
        ],
    }

