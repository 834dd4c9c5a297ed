"""Help Center: article titles indexed for cross-references.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0012'
down_revision: str | Sequence[str] | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # kb.queries.linked_body_html: 'Read "<title>"' in an article links to the article of that title.
    op.create_index(op.f("ix_kb_articles_title"), "kb_articles", ["title"])


def downgrade() -> None:
    op.drop_index(op.f("ix_kb_articles_title"), table_name="kb_articles")
