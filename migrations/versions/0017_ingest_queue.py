"""The ingest queue: the events of a bulk batch whose projection is still to come.

A batch of more than ``INGEST_INLINE_MAX_EVENTS`` is stored in the ledger and answered; the
projection loop applies its events from this queue later, in bigger chunks.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 19:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | Sequence[str] | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_queue",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ingest_queue")),
    )


def downgrade() -> None:
    op.drop_table("ingest_queue")
