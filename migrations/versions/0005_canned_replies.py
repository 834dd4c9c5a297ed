"""One canned-reply model for chat and requests: ``canned_replies`` gains the chat's short code,
the chat's own table is folded into it (rows kept), and titles no longer need to be unique.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:20:00
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-") or "reply"


def _unique(code: str, taken: set[str]) -> str:
    candidate, n = code, 1
    while candidate in taken:
        n += 1
        suffix = f"-{n}"
        candidate = code[:40 - len(suffix)] + suffix
    taken.add(candidate)
    return candidate


def upgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table('canned_replies') as batch:
        batch.add_column(sa.Column('shortcode', sa.String(length=40), nullable=True))
        batch.drop_constraint('uq_canned_replies_title', type_='unique')
    taken: set[str] = set()
    for chat_code, in conn.execute(sa.text("SELECT shortcode FROM chat_canned_replies")):
        taken.add(chat_code)
    for reply_id, title in conn.execute(sa.text("SELECT id, title FROM canned_replies ORDER BY id")).all():
        conn.execute(sa.text("UPDATE canned_replies SET shortcode = :code WHERE id = :id"),
                     {"code": _unique(_slug(title), taken), "id": reply_id})
    conn.execute(sa.text(
        "INSERT INTO canned_replies (shortcode, title, body, created_by_id, created_at) "
        "SELECT shortcode, title, body, created_by, created_at FROM chat_canned_replies ORDER BY id"
    ))
    with op.batch_alter_table('canned_replies') as batch:
        batch.alter_column('shortcode', existing_type=sa.String(length=40), nullable=False)
        batch.create_unique_constraint('uq_canned_replies_shortcode', ['shortcode'])
    op.drop_table('chat_canned_replies')


def downgrade() -> None:
    op.create_table('chat_canned_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shortcode', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['agents.id'], name=op.f('fk_chat_canned_replies_created_by_agents'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_canned_replies')),
    sa.UniqueConstraint('shortcode', name=op.f('uq_chat_canned_replies_shortcode'))
    )
    conn = op.get_bind()
    conn.execute(sa.text(
        "INSERT INTO chat_canned_replies (shortcode, title, body, created_by, created_at) "
        "SELECT shortcode, title, body, created_by_id, created_at FROM canned_replies ORDER BY id"
    ))
    # Requests' replies need unique titles again: keep the first of each title.
    conn.execute(sa.text(
        "DELETE FROM canned_replies WHERE id NOT IN (SELECT MIN(id) FROM canned_replies GROUP BY title)"
    ))
    with op.batch_alter_table('canned_replies') as batch:
        batch.drop_constraint('uq_canned_replies_shortcode', type_='unique')
        batch.drop_column('shortcode')
        batch.create_unique_constraint('uq_canned_replies_title', ['title'])
