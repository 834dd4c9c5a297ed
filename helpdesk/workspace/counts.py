"""What an agent must not miss: waiting chats, their own chats (and the unread ones), their requests."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chat.models import Conversation
from helpdesk.core.agents import Agent
from helpdesk.requests.models import Request

OPEN_REQUEST_STATUSES = ("new", "open", "pending")

# Other engines add theirs with ``register_count`` (the bookings package: open incidents).
EXTRA_COUNTS: dict[str, Callable[[Session, Agent], int]] = {}


def register_count(name: str, count: Callable[[Session, Agent], int]) -> None:
    """Add a count to the navigation's and ``GET /api/v1/workspace/counts`` (``name`` is its key)."""
    EXTRA_COUNTS[name] = count


def counts(session: Session, agent: Agent) -> dict[str, int]:
    waiting = session.scalar(select(func.count()).where(Conversation.status == "waiting")) or 0
    mine = session.execute(
        select(func.count(), func.coalesce(func.sum(Conversation.last_seq - Conversation.agent_read_seq), 0))
        .where(Conversation.agent_id == agent.id, Conversation.status == "active")
    ).one()
    my_unread_chats = session.scalar(select(func.count()).where(
        Conversation.agent_id == agent.id, Conversation.status == "active",
        Conversation.last_seq > Conversation.agent_read_seq,
    )) or 0
    my_requests = session.scalar(select(func.count()).where(
        Request.assignee_id == agent.id, Request.status.in_(OPEN_REQUEST_STATUSES),
    )) or 0
    result = {
        "waiting_chats": int(waiting),
        "my_chats": int(mine[0]),
        "my_unread_chats": int(my_unread_chats),
        "my_requests": int(my_requests),
    }
    for name, count in EXTRA_COUNTS.items():
        result[name] = int(count(session, agent))
    result["attention"] = result["waiting_chats"] + result["my_unread_chats"]
    return result
