"""Read paths of live chat: who may see which conversation, the queue, history after a seq,
the payloads sent over the wire, and the booking diagnostics shown beside a chat.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from chat.models import AgentConnection, AgentStatus, Conversation, Message
from helpdesk.bookings import presenters
from helpdesk.bookings import queries as booking_queries
from helpdesk.bookings.models import Practice
from helpdesk.core.agents import Agent
from helpdesk.core.auth import PracticeUser
from helpdesk.core.db import any_of
from helpdesk.core.errors import InvalidInput, NotFound
from helpdesk.core.views import local_time

OPEN_STATUSES = ("waiting", "active")
REPLAY_LIMIT = 1_000
QUEUE_LIMIT = 100
CONNECTION_STALE_AFTER = timedelta(seconds=90)
RECONNECT_GRACE = timedelta(seconds=15)  # a closed agent connection still counts: a reload reconnects within it
DEFAULT_WAIT_SECONDS = 120
DEFAULT_CAPACITY = 3  # chats at once, until the agent chooses
WAIT_SAMPLE = 20
INT_MAX = 2**31 - 1

Actor = Agent | PracticeUser


# --- access -----------------------------------------------------------------------------------

def may_access(actor: Actor, conversation: Conversation) -> bool:
    """Agents see every chat; a practice user sees its own (a practice admin: its practice's)."""
    if isinstance(actor, Agent):
        return True
    if conversation.practice_id != actor.practice_id:
        return False
    return actor.is_admin or conversation.requester_id == actor.user_id


def whole_number(value: Any, name: str, low: int = 0, high: int = INT_MAX) -> int:
    """An int from JSON within the database's INTEGER range (PostgreSQL refuses larger ones)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput("invalid_field", f"{name} must be a whole number from {low} to {high}", field=name)
    return value


def check_id(conversation_id: Any) -> int:
    return whole_number(conversation_id, "conversation_id", low=1)


def conversation_for(session: Session, actor: Actor, conversation_id: Any) -> Conversation:
    """The conversation, if ``actor`` may see it; otherwise "not found", never the object."""
    check_id(conversation_id)
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or not may_access(actor, conversation):
        raise NotFound("not_found", "conversation not found")
    return conversation


def open_conversation_for(session: Session, user: PracticeUser) -> Conversation | None:
    return session.scalar(
        select(Conversation).where(Conversation.practice_id == user.practice_id,
                                   Conversation.requester_id == user.user_id,
                                   Conversation.status.in_(OPEN_STATUSES))
        .order_by(Conversation.id.desc()).limit(1)
    )


def conversations_for_user(session: Session, user: PracticeUser, limit: int = 5) -> list[Conversation]:
    """The user's open chats and most recent closed ones, newest first."""
    return list(session.scalars(
        select(Conversation).where(Conversation.practice_id == user.practice_id,
                                   Conversation.requester_id == user.user_id)
        .order_by(Conversation.id.desc()).limit(limit)
    ))


# --- the queue and the agents -----------------------------------------------------------------

def oldest_waiting(session: Session) -> Conversation | None:
    return session.scalar(select(Conversation).where(Conversation.status == "waiting").order_by(Conversation.id).limit(1))


def active_count(session: Session, agent_id: int) -> int:
    return session.scalar(select(func.count()).where(Conversation.agent_id == agent_id,
                                                     Conversation.status == "active")) or 0


def online_agents(session: Session, now: datetime) -> list[tuple[Agent, AgentStatus]]:
    """Agents who chose "online" and hold a live connection (or closed one within the reconnect grace)."""
    live = select(AgentConnection.agent_id).where(or_(
        and_(AgentConnection.closed_at.is_(None), AgentConnection.seen_at >= now - CONNECTION_STALE_AFTER),
        AgentConnection.closed_at >= now - RECONNECT_GRACE,
    ))
    rows = session.execute(
        select(Agent, AgentStatus).join(AgentStatus, AgentStatus.agent_id == Agent.id)
        .where(AgentStatus.presence == "online", Agent.is_active.is_(True), Agent.id.in_(live))
        .order_by(Agent.name)
    ).all()
    return [(agent, status) for agent, status in rows]


def agents_online(session: Session, now: datetime) -> int:
    return len(online_agents(session, now))


def queue_position(session: Session, conversation: Conversation) -> int | None:
    if conversation.status != "waiting":
        return None
    ahead = session.scalar(select(func.count()).where(Conversation.status == "waiting",
                                                      Conversation.id < conversation.id)) or 0
    return ahead + 1


def typical_wait_seconds(session: Session) -> float:
    """Mean time from start to accept over the last accepted chats (a default before there are any)."""
    rows = session.execute(
        select(Conversation.created_at, Conversation.accepted_at)
        .where(Conversation.accepted_at.is_not(None)).order_by(Conversation.id.desc()).limit(WAIT_SAMPLE)
    ).all()
    if not rows:
        return DEFAULT_WAIT_SECONDS
    return sum((accepted - created).total_seconds() for created, accepted in rows) / len(rows)


def estimated_wait(position: int | None, typical: float, agents: int) -> int | None:
    if position is None:
        return None
    return int(round(typical * position / max(1, agents)))


def waiting(session: Session, now: datetime) -> list[Conversation]:
    return list(session.scalars(
        select(Conversation).where(Conversation.status == "waiting").order_by(Conversation.id).limit(QUEUE_LIMIT)
    ))


def practice_names(session: Session, practice_ids: Sequence[str]) -> dict[str, str]:
    if not practice_ids:
        return {}
    return dict(session.execute(select(Practice.id, Practice.name).where(Practice.id.in_(set(practice_ids)))).all())


def queue_payload(session: Session, now: datetime) -> dict[str, Any]:
    rows = waiting(session, now)
    names = practice_names(session, [c.practice_id for c in rows])
    first_texts = _first_texts(session, [c.id for c in rows])
    return {
        "waiting": [
            {**conversation_payload(c, for_agent=True, practice_name=names.get(c.practice_id)),
             "position": i, "preview": first_texts.get(c.id, "")}
            for i, c in enumerate(rows, start=1)
        ],
        "agents_online": [{"id": a.id, "name": a.name, "capacity": s.capacity} for a, s in online_agents(session, now)],
    }


def _first_texts(session: Session, conversation_ids: Sequence[int]) -> dict[int, str]:
    if not conversation_ids:
        return {}
    first = (select(Message.conversation_id, func.min(Message.seq).label("seq"))
             .where(Message.conversation_id.in_(conversation_ids), Message.author_type == "practice")
             .group_by(Message.conversation_id).subquery())
    rows = session.execute(select(Message.conversation_id, Message.body).join(
        first, and_(Message.conversation_id == first.c.conversation_id, Message.seq == first.c.seq)))
    return {cid: body[:140] for cid, body in rows}


def practice_texts(session: Session, conversation: Conversation) -> list[Message]:
    """What the practice wrote in the chat, in order (no agent, assistant or system lines)."""
    return list(session.scalars(
        select(Message).where(Message.conversation_id == conversation.id, Message.author_type == "practice",
                              Message.kind == "text").order_by(Message.seq)
    ))


def agent_chats(session: Session, agent_id: int) -> list[dict[str, Any]]:
    """The agent's active chats, each with its unread count (practice messages past what they read)."""
    unread = (select(func.count()).where(Message.conversation_id == Conversation.id,
                                         Message.seq > Conversation.agent_read_seq,
                                         Message.author_type == "practice")
              .correlate(Conversation).scalar_subquery())
    rows = session.execute(
        select(Conversation, unread).where(Conversation.agent_id == agent_id, Conversation.status == "active")
        .order_by(Conversation.id)
    ).all()
    names = practice_names(session, [c.practice_id for c, _ in rows])
    return [{**conversation_payload(c, for_agent=True, practice_name=names.get(c.practice_id)), "unread": n}
            for c, n in rows]


def agent_presence(session: Session, agent_id: int) -> dict[str, Any]:
    """The presence and capacity the agent last chose (kept across reloads and sign-ins)."""
    status = session.get(AgentStatus, agent_id)
    return {"presence": status.presence if status else "offline",
            "capacity": status.capacity if status else DEFAULT_CAPACITY}


# --- messages ---------------------------------------------------------------------------------

def messages_after(session: Session, conversation_id: int, after_seq: int, limit: int = REPLAY_LIMIT) -> list[Message]:
    return list(session.scalars(
        select(Message).where(Message.conversation_id == conversation_id, Message.seq > after_seq)
        .order_by(Message.seq).limit(limit)
    ))


def message_by_client_id(session: Session, conversation_id: int, client_id: Any) -> Message:
    return session.execute(select(Message).where(Message.conversation_id == conversation_id,
                                                 Message.client_id == client_id)).scalar_one()


def transcript_text(session: Session, conversation: Conversation) -> str:
    """The chat as plain text (the emailed transcript), its times in the practice's own zone."""
    practice = session.get(Practice, conversation.practice_id)
    tz = practice.timezone if practice is not None and practice.timezone else "UTC"
    lines = [f"Chat #{conversation.id} - practice {conversation.practice_id} - started "
             f"{local_time(conversation.created_at, tz)}", ""]
    for m in messages_after(session, conversation.id, 0, limit=100_000):
        who = "*" if m.kind == "system" else f"{m.author_name}:"
        body = m.body if m.kind != "article" else f"shared an article: {m.body} ({m.data.get('article', {}).get('url', '')})"
        lines.append(f"[{local_time(m.created_at, tz, 'clock')}] {who} {body}")
    return "\n".join(lines)


def request_transcript(session: Session, request_id: int) -> tuple[Conversation, list[Message]] | None:
    """The chat a request was made from and all its lines (the request's "Chat transcript")."""
    conversation = session.scalar(select(Conversation).where(Conversation.request_id == request_id)
                                  .order_by(Conversation.id).limit(1))
    if conversation is None:
        return None
    return conversation, messages_after(session, conversation.id, 0, limit=REPLAY_LIMIT * 10)


def message_payload(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "client_id": message.client_id,
        "kind": message.kind,
        "author": {"type": message.author_type, "id": message.author_id, "name": message.author_name},
        "body": message.body,
        "data": message.data or {},
        "created_at": message.created_at.isoformat(),
    }


def conversation_payload(conversation: Conversation, for_agent: bool = False, position: int | None = None,
                         estimated_wait_seconds: int | None = None, practice_name: str | None = None) -> dict[str, Any]:
    agent = conversation.agent
    payload: dict[str, Any] = {
        "id": conversation.id,
        "status": conversation.status,
        "practice_id": conversation.practice_id,
        "created_at": conversation.created_at.isoformat(),
        "accepted_at": conversation.accepted_at.isoformat() if conversation.accepted_at else None,
        "closed_at": conversation.closed_at.isoformat() if conversation.closed_at else None,
        "closed_by": conversation.closed_by,
        "agent": {"id": agent.id, "name": agent.name} if agent is not None and conversation.agent_id else None,
        "last_seq": conversation.last_seq,
        "practice_read_seq": conversation.practice_read_seq,
        "agent_read_seq": conversation.agent_read_seq,
        "rating": conversation.rating,
        "request_id": conversation.request_id,
    }
    if conversation.status == "waiting":
        payload["position"] = position
        payload["estimated_wait_seconds"] = estimated_wait_seconds
    if for_agent:
        payload["requester"] = {"id": conversation.requester_id, "name": conversation.requester_name,
                                "email": conversation.requester_email}
        payload["practice_name"] = practice_name
        payload["rating_comment"] = conversation.rating_comment
    return payload


def practice_view(session: Session, conversation: Conversation, now: datetime) -> dict[str, Any]:
    """The conversation as its practice user sees it, with queue position and estimated wait."""
    position = queue_position(session, conversation)
    wait = estimated_wait(position, typical_wait_seconds(session), agents_online(session, now)) if position else None
    return conversation_payload(conversation, position=position, estimated_wait_seconds=wait)


def agent_view(session: Session, conversation: Conversation) -> dict[str, Any]:
    names = practice_names(session, [conversation.practice_id])
    return conversation_payload(conversation, for_agent=True, position=queue_position(session, conversation),
                                practice_name=names.get(conversation.practice_id))


# --- the knowledge base -----------------------------------------------------------------------

def article_card(session: Session, article_id: int) -> dict[str, Any] | None:
    """A published article as a card to share in a chat (title, link, a line of its text)."""
    from kb.models import Article

    article = session.get(Article, article_id)
    if article is None or article.status != "published":
        return None
    return _card(article)


def _card(article: Any) -> dict[str, Any]:
    text = " ".join(article.body.replace("#", " ").replace("*", " ").split())
    return {"id": article.id, "title": article.title, "url": article.path,
            "snippet": text[:160] + ("…" if len(text) > 160 else "")}


# --- diagnostics beside the chat -------------------------------------------------------------

_PRACTICES_WITH_OPEN_CHATS = (select(Conversation.practice_id)
                              .where(any_of(Conversation.practice_id, "practice_ids"),
                                     Conversation.status.in_(OPEN_STATUSES)).distinct())


def practices_with_open_chats(session: Session, practice_ids: Sequence[str]) -> list[str]:
    """Asked after every ingest batch: the statement is built once."""
    if not practice_ids:
        return []
    return sorted(session.scalars(_PRACTICES_WITH_OPEN_CHATS, {"practice_ids": sorted(set(practice_ids))}))


def diagnostics_snapshot(session: Session, practice_id: str, now: datetime, window_days: int,
                         silent_after: timedelta) -> dict[str, Any]:
    """Health, recent bookings that missed a channel and the integration timeline (names masked)."""
    practice = session.get(Practice, practice_id)
    if practice is None:
        return {"practice_id": practice_id, "known": False, "at": now.isoformat()}
    missed, _ = booking_queries.list_bookings(session, practice_id, booking_queries.BookingFilters(missed_only=True),
                                               None, 10)
    events, _ = booking_queries.list_integration_events(session, practice_id, booking_queries.INTEGRATION_KINDS,
                                                         None, None, None, 15)
    return {
        "practice_id": practice_id,
        "known": True,
        "at": now.isoformat(),
        "health": booking_queries.health(session, practice, now, window_days, silent_after),
        "failed_bookings": [presenters.booking_row(b) for b in missed],
        "timeline": [presenters.integration_event_row(e) for e in events],
        **_at_risk_and_incident(session, practice, now),
    }


def _at_risk_and_incident(session: Session, practice: Practice, now: datetime) -> dict[str, Any]:
    """Today's bookings at risk and the open incident (helpdesk.bookings), shown at the top of the panel."""
    from helpdesk.bookings import atrisk, incidents

    incident = incidents.open_incident_for(session, practice.id)
    return {
        "at_risk": atrisk.at_risk_payload(session, practice, atrisk.practice_today(practice, now), now),
        "incident": incidents.incident_summary(session, incident) if incident is not None else None,
    }


def diagnosis_with_articles(session: Session, practice_id: str, reference: str, now: datetime) -> dict[str, Any] | None:
    """The diagnosis, with its articles (one per cause, from the knowledge base) as shareable cards."""
    verdict = booking_queries.diagnose_booking(session, practice_id, reference, now)
    if verdict is None:
        return None
    from kb.models import Article

    ids = list(dict.fromkeys(a["id"] for a in verdict["articles"] if "id" in a))
    found = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_(ids)))} if ids else {}
    cards: dict[int, dict[str, Any]] = {}
    for article in verdict["articles"]:
        if article.get("id") in found:
            cards.setdefault(article["id"], {**_card(found[article["id"]]), "key": article["key"]})
    verdict["suggested_articles"] = list(cards.values())
    return verdict

