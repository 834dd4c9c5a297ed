"""Help Center: sign-in hand-offs from the widget, confirmed follows, article titles indexed.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | Sequence[str] | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # kb.queries.linked_body_html: 'Read "<title>"' in an article links to the article of that title.
    op.create_index(op.f("ix_kb_articles_title"), "kb_articles", ["title"])

    # Double opt-in: a follow counts once confirmed. Follows made before this were never asked
    # to confirm and have been getting their emails: they stay confirmed.
    op.add_column("kb_follows", sa.Column("confirmed_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE kb_follows SET confirmed_at = created_at")
    op.create_index("ix_kb_follows_confirmed_created", "kb_follows", ["confirmed_at", "created_at"])

    # kb.service.redeem_handoff: each sign-in link from the widget works once.
    op.create_table(
        "kb_session_handoffs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user", sa.JSON(), nullable=False),
        sa.Column("next_path", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_session_handoffs")),
    )
    op.create_index(op.f("ix_kb_session_handoffs_expires_at"), "kb_session_handoffs", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_kb_session_handoffs_expires_at"), table_name="kb_session_handoffs")
    op.drop_table("kb_session_handoffs")
    op.drop_index("ix_kb_follows_confirmed_created", table_name="kb_follows")
    with op.batch_alter_table("kb_follows") as batch_op:
        batch_op.drop_column("confirmed_at")
    op.drop_index(op.f("ix_kb_articles_title"), table_name="kb_articles")
