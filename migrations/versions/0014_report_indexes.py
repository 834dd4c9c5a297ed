"""Indexes in the order two reports read: durations by value, bookings by diary status.

Each duration index leads with a stored duration and carries created_at, so the median or p90
of a period is the n-th entry of an index range (LIMIT 1 OFFSET n-1) instead of a sort of a year
of rows (SQLite has no hashed GROUP BY; the sorts were most of the response report's time).
The diagnosis report counts a period's diary failures: led by diary_status, they are a few
index ranges instead of a scan of every booking in the period.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0014'
down_revision: str | Sequence[str] | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_chat_conversations_first_response", "chat_conversations", ["first_response_seconds", "created_at"]),
    ("ix_chat_conversations_resolution", "chat_conversations", ["resolution_seconds", "created_at"]),
    ("ix_requests_first_reply", "requests", ["first_reply_seconds", "created_at"]),
    ("ix_requests_resolution", "requests", ["resolution_seconds", "created_at"]),
    ("ix_bookings_diary_created", "bookings", ["diary_status", "created_at", "practice_id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
