"""The answer desk's data: its settings (one row) and how each chat with it ended.

Assistant messages themselves are ordinary ``chat_messages`` rows (``author_type = 'assistant'``,
the structured answer in ``data``): no table of their own.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.core.clock import utcnow
from helpdesk.core.db import Base

KINDS = ("diary_missing", "no_booking_email", "alert_emails", "connector", "cancellation", "how_to",
         "wants_person", "unhappy")
# The kinds it answers by itself (a person and an unhappy practice are always handed off).
ANSWERABLE_KINDS = ("diary_missing", "no_booking_email", "alert_emails", "connector", "cancellation", "how_to")
OUTCOMES = ("answered", "resolved_confirmed", "resolved_left", "handed_off")
HANDOFF_REASONS = ("asked_for_person", "unhappy", "cannot_answer", "escalate_alert_not_sent", "open_incident",
                   "kind_not_answered")
DEFAULT_GREETING = "Hello, I'm the Practice Helpdesk assistant: tell me the booking reference or the patient and day."


class AssistantSettings(Base):
    """The one settings row (``id = 1``); no row means the defaults: off."""

    __tablename__ = "assistant_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Let a practice start a chat with the assistant while no agent is online (a hand-off then
    # becomes a request).
    offline_chats: Mapped[bool] = mapped_column(Boolean, default=False)
    greeting: Mapped[str] = mapped_column(Text, default=DEFAULT_GREETING)
    kinds: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(ANSWERABLE_KINDS))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))


class ChatOutcome(Base):
    """How one chat with the assistant ended: answered (pending), resolved (confirmed, or left
    without asking for a person within 24 h), or handed off (with the reason); and whether the
    practice came back about the same booking within 7 days."""

    __tablename__ = "assistant_outcomes"
    __table_args__ = (
        Index("ix_assistant_outcomes_started", "started_at"),
        Index("ix_assistant_outcomes_practice_reference", "practice_id", "reference"),
        CheckConstraint("outcome IN ('answered', 'resolved_confirmed', 'resolved_left', 'handed_off')",
                        name="outcome"),
    )

    conversation_id: Mapped[int] = mapped_column(ForeignKey("chat_conversations.id", ondelete="CASCADE"),
                                                 primary_key=True)
    practice_id: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(24), default="answered")
    handoff_reason: Mapped[str | None] = mapped_column(String(32))
    answers: Mapped[int] = mapped_column(Integer, default=0)
    came_back: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_answer_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
