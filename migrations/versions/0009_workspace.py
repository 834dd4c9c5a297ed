"""the agent workspace: profiles, preferences, presence.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_preferences",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("sound", sa.Boolean(), nullable=False),
        sa.Column("desktop", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("agent_id"),
    )
    # The header search looks across practices: indexes that do not lead with practice_id.
    op.create_index("ix_bookings_reference_key_all", "bookings", ["reference_key"])
    op.create_index("ix_bookings_last_first_key_all", "bookings", ["last_name_key", "first_name_key"])
    op.create_index("ix_bookings_first_name_key_all", "bookings", ["first_name_key"])
    # The reports read a period from these alone (covering indexes).
    op.create_index("ix_bookings_created_diary", "bookings", ["created_at", "diary_status", "practice_id"])
    op.create_index("ix_chat_conversations_created_times", "chat_conversations", ["created_at", "accepted_at", "closed_at"])
    op.create_index("ix_chat_conversations_rated", "chat_conversations", ["rated_at", "rating"])
    op.create_index("ix_requests_created_times", "requests", ["created_at", "priority", "first_replied_at", "solved_at"])


def downgrade() -> None:
    op.drop_index("ix_requests_created_times", table_name="requests")
    op.drop_index("ix_chat_conversations_rated", table_name="chat_conversations")
    op.drop_index("ix_chat_conversations_created_times", table_name="chat_conversations")
    op.drop_index("ix_bookings_created_diary", table_name="bookings")
    op.drop_index("ix_bookings_first_name_key_all", table_name="bookings")
    op.drop_index("ix_bookings_last_first_key_all", table_name="bookings")
    op.drop_index("ix_bookings_reference_key_all", table_name="bookings")
    op.drop_table("agent_preferences")
