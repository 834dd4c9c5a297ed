"""chat: conversations, messages (per-conversation seq, idempotent client ids), agents'
presence and live connections, canned replies.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 23:08:23.382288
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('chat_canned_replies', 'chat_agent_connections', 'chat_agent_status', 'chat_messages', 'chat_conversations')


def upgrade() -> None:
    op.create_table('chat_conversations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.String(length=64), nullable=False),
    sa.Column('requester_id', sa.String(length=128), nullable=False),
    sa.Column('requester_name', sa.String(length=200), nullable=False),
    sa.Column('requester_email', sa.String(length=320), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('accepted_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by', sa.String(length=16), nullable=True),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('last_message_at', sa.DateTime(), nullable=True),
    sa.Column('practice_read_seq', sa.Integer(), nullable=False),
    sa.Column('agent_read_seq', sa.Integer(), nullable=False),
    sa.Column('transcript', sa.Text(), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('rating_comment', sa.Text(), nullable=True),
    sa.Column('rated_at', sa.DateTime(), nullable=True),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('waiting', 'active', 'closed')", name=op.f('ck_chat_conversations_status')),
    sa.CheckConstraint('rating IS NULL OR (rating BETWEEN 1 AND 5)', name=op.f('ck_chat_conversations_rating')),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_chat_conversations_agent_id_agents'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_conversations'))
    )
    with op.batch_alter_table('chat_conversations', schema=None) as batch_op:
        batch_op.create_index('ix_chat_conversations_agent_status', ['agent_id', 'status'], unique=False)
        batch_op.create_index('ix_chat_conversations_practice_status', ['practice_id', 'status'], unique=False)
        batch_op.create_index('ix_chat_conversations_requester', ['practice_id', 'requester_id', 'status'], unique=False)
        batch_op.create_index('ix_chat_conversations_status_created', ['status', 'created_at'], unique=False)

    op.create_table('chat_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('author_type', sa.String(length=16), nullable=False),
    sa.Column('author_id', sa.String(length=128), nullable=True),
    sa.Column('author_name', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('text', 'article', 'system')", name=op.f('ck_chat_messages_kind')),
    sa.ForeignKeyConstraint(['conversation_id'], ['chat_conversations.id'], name=op.f('fk_chat_messages_conversation_id_chat_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_messages')),
    sa.UniqueConstraint('conversation_id', 'client_id', name='uq_chat_messages_conversation_client_id'),
    sa.UniqueConstraint('conversation_id', 'seq', name='uq_chat_messages_conversation_seq')
    )

    op.create_table('chat_agent_status',
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('presence', sa.String(length=16), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("presence IN ('online', 'away', 'offline')", name=op.f('ck_chat_agent_status_presence')),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_chat_agent_status_agent_id_agents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('agent_id', name=op.f('pk_chat_agent_status'))
    )

    op.create_table('chat_agent_connections',
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('node', sa.String(length=64), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('connected_at', sa.DateTime(), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_chat_agent_connections_agent_id_agents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sid', name=op.f('pk_chat_agent_connections'))
    )
    with op.batch_alter_table('chat_agent_connections', schema=None) as batch_op:
        batch_op.create_index('ix_chat_agent_connections_agent_seen', ['agent_id', 'seen_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_chat_agent_connections_node'), ['node'], unique=False)

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


def downgrade() -> None:
    # Dropping a table drops its indexes; children first.
    for table in TABLES:
        op.drop_table(table)
