"""The agent's workspace: per-agent preferences, and the cross-practice indexes the search needs.

The bookings table's own indexes all lead with ``practice_id`` (every bookings list is within one
practice); the header search looks across practices, so it gets indexes of its own, declared
here (on the bookings table) and created by migration 0009, with the covering indexes the
reports read a period from.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from chat.models import Conversation
from helpdesk.bookings.models import Booking
from helpdesk.core.clock import utcnow
from helpdesk.core.db import Base
from helpdesk.requests.models import Request

Index("ix_bookings_reference_key_all", Booking.reference_key)
Index("ix_bookings_last_first_key_all", Booking.last_name_key, Booking.first_name_key)
Index("ix_bookings_first_name_key_all", Booking.first_name_key)
# Covering indexes for the reports over a period (a year of rows is read from the index alone).
Index("ix_bookings_created_diary", Booking.created_at, Booking.diary_status, Booking.practice_id)
# The diagnosis report reads only a period's failures (a few per cent of a year of bookings).
Index("ix_bookings_diary_created", Booking.diary_status, Booking.created_at, Booking.practice_id)
Index("ix_chat_conversations_created_times", Conversation.created_at, Conversation.first_response_seconds,
      Conversation.resolution_seconds, Conversation.closed_at)
Index("ix_chat_conversations_rated", Conversation.rated_at, Conversation.rating)
Index("ix_requests_created_times", Request.created_at, Request.priority, Request.first_reply_seconds,
      Request.resolution_seconds)
# Durations in value order, for the response report's percentiles (read at a rank, never sorted).
Index("ix_chat_conversations_first_response", Conversation.first_response_seconds, Conversation.created_at)
Index("ix_chat_conversations_resolution", Conversation.resolution_seconds, Conversation.created_at)
Index("ix_requests_first_reply", Request.first_reply_seconds, Request.created_at)
Index("ix_requests_resolution", Request.resolution_seconds, Request.created_at)


class AgentPreference(Base):
    """What an agent chose for their own view: time zone and how they want to be told of chats."""

    __tablename__ = "agent_preferences"

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    sound: Mapped[bool] = mapped_column(Boolean, default=False)
    desktop: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
