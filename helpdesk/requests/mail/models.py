"""Every email that goes through the mail channel, by Message-ID: threading, loops and duplicates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.core.clock import utcnow
from helpdesk.core.db import Base

DIRECTIONS = ("in", "out")


class MailMessage(Base):
    """One email we sent (``out``) or received (``in``).

    ``message_id`` (without angle brackets, lower-cased) is unique: a received email is stored
    once however often it is delivered, and an email carrying one of our own ids is a loop.
    ``request_id`` is the request it belongs to (``None`` for agent notifications and for
    received mail that was dropped); ``status`` is ``stored`` or ``dropped`` with its ``reason``.
    """

    __tablename__ = "mail_messages"
    __table_args__ = (Index("ix_mail_messages_sender_created", "sender", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    direction: Mapped[str] = mapped_column(String(8))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id", ondelete="SET NULL"), index=True)
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("request_comments.id", ondelete="SET NULL"))
    sender: Mapped[str] = mapped_column(String(320), default="")
    status: Mapped[str] = mapped_column(String(16), default="stored")
    reason: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
