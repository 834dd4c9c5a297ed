"""Outbox rows: one outgoing email or webhook delivery, written with the change that causes it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.core.clock import utcnow
from helpdesk.core.db import Base

KINDS = ("email", "webhook")
STATUSES = ("pending", "sent", "failed")


class OutboxMessage(Base):
    """A message waiting to go out, gone, or given up on (kept, never deleted).

    A sender claims a row by stamping ``claim_token`` and pushing ``next_attempt_at`` past a lease;
    only the holder of the token may mark it sent, so two senders never both send one row.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # email | webhook
    status: Mapped[str] = mapped_column(String(16), default="pending")
    recipient: Mapped[str] = mapped_column(String(2000))  # an email address or a webhook URL
    subject: Mapped[str] = mapped_column(String(300), default="")  # email subject, or the webhook event
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # email: text, html, headers; webhook: body
    # Ties a row to what caused it, so a cause is queued once (e.g. "kb_notification:12").
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
