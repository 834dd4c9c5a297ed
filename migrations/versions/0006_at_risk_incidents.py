"""practice hours, closed days, diary removals, digests and incidents.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 22:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ('practices', 'practice_settings'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('opening_hours', sa.JSON(), nullable=True))
            batch_op.add_column(sa.Column('holidays_region', sa.String(length=16), nullable=True))
            batch_op.add_column(sa.Column('digest_time', sa.String(length=5), nullable=True))

    op.create_index('ix_integration_events_kind_time', 'integration_events', ['kind', 'occurred_at'], unique=False)

    op.create_table('practice_closed_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('practice_id', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_practice_closed_days_practice_id_practices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_practice_closed_days')),
    sa.UniqueConstraint('event_id', name=op.f('uq_practice_closed_days_event_id'))
    )
    op.create_index('ix_practice_closed_days_practice_day', 'practice_closed_days', ['practice_id', 'day'], unique=False)

    op.create_table('digest_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('at_risk', sa.Integer(), nullable=False),
    sa.Column('emails', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_digest_runs_practice_id_practices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_runs')),
    sa.UniqueConstraint('practice_id', 'day', name='uq_digest_runs_practice_day')
    )

    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('open_key', sa.String(length=200), nullable=True),
    sa.Column('pms_software', sa.String(length=100), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['merged_into_id'], ['incidents.id'], name=op.f('fk_incidents_merged_into_id_incidents'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents')),
    sa.UniqueConstraint('open_key', name=op.f('uq_incidents_open_key'))
    )
    op.create_index('ix_incidents_state_started', 'incidents', ['state', 'started_at'], unique=False)

    op.create_table('incident_practices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.String(length=64), nullable=False),
    sa.Column('joined_at', sa.DateTime(), nullable=False),
    sa.Column('recovered_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_practices_incident_id_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['practice_id'], ['practices.id'], name=op.f('fk_incident_practices_practice_id_practices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_practices')),
    sa.UniqueConstraint('incident_id', 'practice_id', name='uq_incident_practices')
    )
    op.create_index('ix_incident_practices_practice', 'incident_practices', ['practice_id', 'incident_id'], unique=False)

    op.create_table('incident_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('practice_id', sa.String(length=64), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_entries_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_entries'))
    )
    op.create_index('ix_incident_entries_incident', 'incident_entries', ['incident_id', 'at', 'id'], unique=False)


def downgrade() -> None:
    # Dropping a table drops its indexes; children first.
    for table in ('incident_entries', 'incident_practices', 'incidents', 'digest_runs', 'practice_closed_days'):
        op.drop_table(table)
    op.drop_index('ix_integration_events_kind_time', table_name='integration_events')
    for table in ('practice_settings', 'practices'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('digest_time')
            batch_op.drop_column('holidays_region')
            batch_op.drop_column('opening_hours')
