"""chat: the request a chat became is a real link (its pages show the chat's transcript), and
an agent's closed connection is remembered for a short grace (a console reload).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | Sequence[str] | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A chat that named a request no longer there links to nothing (the foreign key would refuse it).
    op.execute("UPDATE chat_conversations SET request_id = NULL "
               "WHERE request_id IS NOT NULL AND request_id NOT IN (SELECT id FROM requests)")
    with op.batch_alter_table('chat_conversations', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_chat_conversations_request_id_requests'), 'requests',
                                    ['request_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index('ix_chat_conversations_request', ['request_id'], unique=False)
    with op.batch_alter_table('chat_agent_connections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('chat_agent_connections', schema=None) as batch_op:
        batch_op.drop_column('closed_at')
    with op.batch_alter_table('chat_conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_chat_conversations_request')
        batch_op.drop_constraint(batch_op.f('fk_chat_conversations_request_id_requests'), type_='foreignkey')
