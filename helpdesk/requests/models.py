"""Requests, their conversation (public replies and internal notes), attachments, canned replies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.core.agents import Agent
from helpdesk.core.clock import utcnow
from helpdesk.core.db import Base

STATUSES = ("new", "open", "pending", "solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
CHANNELS = ("web", "widget", "api", "email")
AUTHOR_KINDS = ("requester", "agent")


class Request(Base):
    """A requester's question and its state in the agent queue.

    ``practice_id`` comes only from a verified widget identity (never from a form); an anonymous
    requester has none. ``due_at`` is the reply deadline currently running (first or next reply),
    ``None`` while nobody owes the requester an answer.
    """

    __tablename__ = "requests"
    __table_args__ = (
        Index("ix_requests_status_updated", "status", "updated_at"),
        Index("ix_requests_practice_created", "practice_id", "created_at"),
        Index("ix_requests_requester_user", "practice_id", "requester_user_id"),
        Index("ix_requests_assignee_status", "assignee_id", "status"),
        Index("ix_requests_due", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="new")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    channel: Mapped[str] = mapped_column(String(16), default="web")
    practice_id: Mapped[str | None] = mapped_column(String(64))
    requester_user_id: Mapped[str | None] = mapped_column(String(64))
    requester_email: Mapped[str] = mapped_column(String(320), index=True)
    requester_name: Mapped[str] = mapped_column(String(200), default="")
    booking_reference: Mapped[str | None] = mapped_column(String(64))
    booking_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_replied_at: Mapped[datetime | None]
    awaiting_since: Mapped[datetime | None]
    due_kind: Mapped[str | None] = mapped_column(String(16))  # first_reply | next_reply
    due_at: Mapped[datetime | None]
    solved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # Stored when they happen, for the reports: created -> first public agent reply, created -> solved.
    first_reply_seconds: Mapped[int | None] = mapped_column(Integer)
    resolution_seconds: Mapped[int | None] = mapped_column(Integer)

    assignee: Mapped[Agent | None] = relationship(lazy="joined")


class RequestComment(Base):
    """One message in a request's conversation. ``public`` False is an internal note: agents only."""

    __tablename__ = "request_comments"
    __table_args__ = (Index("ix_request_comments_request", "request_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    author_kind: Mapped[str] = mapped_column(String(16))  # requester | agent
    author_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RequestAttachment(Base):
    """A file sent with a request or a comment; the bytes live in the attachment store."""

    __tablename__ = "request_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), index=True)
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("request_comments.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
