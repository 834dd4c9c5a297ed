"""the answer desk: assistant settings and chat outcomes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 22:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assistant_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("offline_chats", sa.Boolean(), nullable=False),
        sa.Column("greeting", sa.Text(), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by"], ["agents.id"], name=op.f("fk_assistant_settings_updated_by_agents"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_settings")),
    )
    op.create_table(
        "assistant_outcomes",
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("practice_id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("handoff_reason", sa.String(length=32), nullable=True),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("came_back", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_answer_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("outcome IN ('answered', 'resolved_confirmed', 'resolved_left', 'handed_off')",
                           name=op.f("ck_assistant_outcomes_outcome")),
        sa.ForeignKeyConstraint(["conversation_id"], ["chat_conversations.id"],
                                name=op.f("fk_assistant_outcomes_conversation_id_chat_conversations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_assistant_outcomes")),
    )
    op.create_index("ix_assistant_outcomes_started", "assistant_outcomes", ["started_at"])
    op.create_index("ix_assistant_outcomes_practice_reference", "assistant_outcomes", ["practice_id", "reference"])


def downgrade() -> None:
    op.drop_index("ix_assistant_outcomes_practice_reference", table_name="assistant_outcomes")
    op.drop_index("ix_assistant_outcomes_started", table_name="assistant_outcomes")
    op.drop_table("assistant_outcomes")
    op.drop_table("assistant_settings")
