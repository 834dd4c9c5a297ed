"""response and resolution seconds, stored when they happen.

The response report used to parse three timestamps per chat (and two per request) for a year of
rows; it now sums these integers, read from the covering indexes. Existing rows are backfilled
from their timestamps, with the same definitions the verbs use: a chat's first response is its
acceptance, its resolution its end (accepted chats only); a request's first reply is the first
public agent comment, its resolution the moment it was solved.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | Sequence[str] | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, new column, start column, end column, what else the row must be)
BACKFILL = (
    ("chat_conversations", "first_response_seconds", "created_at", "accepted_at", ""),
    ("chat_conversations", "resolution_seconds", "created_at", "closed_at", " AND accepted_at IS NOT NULL"),
    ("requests", "first_reply_seconds", "created_at", "first_replied_at", ""),
    ("requests", "resolution_seconds", "created_at", "solved_at", ""),
)


def _seconds(dialect: str, start: str, end: str) -> str:
    if dialect == "postgresql":
        return f"CAST(ROUND(EXTRACT(EPOCH FROM ({end} - {start}))) AS INTEGER)"
    return f"CAST(ROUND((julianday({end}) - julianday({start})) * 86400) AS INTEGER)"


def upgrade() -> None:
    for table in ("chat_conversations", "requests"):
        with op.batch_alter_table(table) as batch:
            for _, column, _, _, _ in (row for row in BACKFILL if row[0] == table):
                batch.add_column(sa.Column(column, sa.Integer(), nullable=True))
    dialect = op.get_bind().dialect.name
    for table, column, start, end, condition in BACKFILL:
        op.execute(f"UPDATE {table} SET {column} = {_seconds(dialect, start, end)} WHERE {end} IS NOT NULL{condition}")
    # The reports read a period from these alone (covering indexes), now with the seconds.
    op.drop_index("ix_chat_conversations_created_times", table_name="chat_conversations")
    op.create_index("ix_chat_conversations_created_times", "chat_conversations",
                    ["created_at", "first_response_seconds", "resolution_seconds", "closed_at"])
    op.drop_index("ix_requests_created_times", table_name="requests")
    op.create_index("ix_requests_created_times", "requests",
                    ["created_at", "priority", "first_reply_seconds", "resolution_seconds"])


def downgrade() -> None:
    op.drop_index("ix_requests_created_times", table_name="requests")
    op.create_index("ix_requests_created_times", "requests", ["created_at", "priority", "first_replied_at", "solved_at"])
    op.drop_index("ix_chat_conversations_created_times", table_name="chat_conversations")
    op.create_index("ix_chat_conversations_created_times", "chat_conversations", ["created_at", "accepted_at", "closed_at"])
    for table in ("requests", "chat_conversations"):
        with op.batch_alter_table(table) as batch:
            for _, column, _, _, _ in (row for row in BACKFILL if row[0] == table):
                batch.drop_column(column)
