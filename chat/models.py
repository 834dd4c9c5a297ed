"""Live chat's data: conversations, their messages, agents' presence and live connections,
and canned replies.

Every message carries a per-conversation ``seq`` (allocated from ``Conversation.last_seq``) and,
when the sender gave one, its ``client_id``; both are unique within a conversation, which is what
makes ``send_message`` idempotent and lets a reconnecting client ask for "everything after seq N".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.core.agents import Agent
from helpdesk.core.clock import utcnow
from helpdesk.core.db import Base
from helpdesk.requests.models import Request

CONVERSATION_STATUSES = ("waiting", "active", "closed")
MESSAGE_KINDS = ("text", "article", "system")
AUTHOR_TYPES = ("practice", "agent", "system")
PRESENCES = ("online", "away", "offline")


class Conversation(Base):
    """One chat between a practice user and support: waiting (queued) -> active -> closed.

    ``practice_id`` is the platform's id from the widget token; it is not a foreign key, since a
    practice may chat before the platform has sent its profile.
    """

    __tablename__ = "chat_conversations"
    __table_args__ = (
        Index("ix_chat_conversations_status_created", "status", "created_at"),
        Index("ix_chat_conversations_practice_status", "practice_id", "status"),
        Index("ix_chat_conversations_requester", "practice_id", "requester_id", "status"),
        Index("ix_chat_conversations_agent_status", "agent_id", "status"),
        Index("ix_chat_conversations_request", "request_id"),
        CheckConstraint("status IN ('waiting', 'active', 'closed')", name="status"),
        CheckConstraint("rating IS NULL OR (rating BETWEEN 1 AND 5)", name="rating"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    practice_id: Mapped[str] = mapped_column(String(64))
    requester_id: Mapped[str] = mapped_column(String(128))
    requester_name: Mapped[str] = mapped_column(String(200), default="")
    requester_email: Mapped[str] = mapped_column(String(320), default="")
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(16))  # practice | agent
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_message_at: Mapped[datetime | None]
    # Read receipts: the highest seq each side has seen.
    practice_read_seq: Mapped[int] = mapped_column(Integer, default=0)
    agent_read_seq: Mapped[int] = mapped_column(Integer, default=0)
    transcript: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None]
    # Stored when they happen, for the reports: created -> accepted, created -> ended (accepted chats).
    first_response_seconds: Mapped[int | None] = mapped_column(Integer)
    resolution_seconds: Mapped[int | None] = mapped_column(Integer)
    # The request this chat became, if any: the request's pages show this chat's transcript.
    request_id: Mapped[int | None] = mapped_column(ForeignKey(Request.id, ondelete="SET NULL"))

    agent: Mapped[Agent | None] = relationship(lazy="joined")


class Message(Base):
    __tablename__ = "chat_messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_chat_messages_conversation_seq"),
        UniqueConstraint("conversation_id", "client_id", name="uq_chat_messages_conversation_client_id"),
        CheckConstraint("kind IN ('text', 'article', 'system')", name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("chat_conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    client_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="text")
    author_type: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str | None] = mapped_column(String(128))
    author_name: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    # Kind-specific facts: an article card, a system event, booking references spotted in the text.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AgentStatus(Base):
    """An agent's chosen presence and how many chats they take at once."""

    __tablename__ = "chat_agent_status"
    __table_args__ = (CheckConstraint("presence IN ('online', 'away', 'offline')", name="presence"),)

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    presence: Mapped[str] = mapped_column(String(16), default="offline")
    capacity: Mapped[int] = mapped_column(Integer, default=3)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AgentConnection(Base):
    """A live Socket.IO connection of an agent, on one server process (``node``).

    An agent counts as online only while they chose "online" *and* hold a connection seen
    recently: each process refreshes ``seen_at`` of its own connections, so a process that dies
    stops vouching for its agents within ``CONNECTION_STALE_AFTER``. A closed connection
    (``closed_at``) still vouches for ``RECONNECT_GRACE``: reloading the console drops the socket
    for a moment, and practices must not be told "no agent is online" for that moment.
    """

    __tablename__ = "chat_agent_connections"
    __table_args__ = (Index("ix_chat_agent_connections_agent_seen", "agent_id", "seen_at"),)

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    node: Mapped[str] = mapped_column(String(64), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
