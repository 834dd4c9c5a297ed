"""the email channel: inbound mail, Message-IDs and reply tokens.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mail_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("comment_id", sa.Integer(), nullable=True),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name=op.f("fk_mail_messages_request_id_requests"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["comment_id"], ["request_comments.id"],
                                name=op.f("fk_mail_messages_comment_id_request_comments"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_mail_messages_message_id")),
    )
    op.create_index("ix_mail_messages_request_id", "mail_messages", ["request_id"])
    op.create_index("ix_mail_messages_sender_created", "mail_messages", ["sender", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_mail_messages_sender_created", table_name="mail_messages")
    op.drop_index("ix_mail_messages_request_id", table_name="mail_messages")
    op.drop_table("mail_messages")
