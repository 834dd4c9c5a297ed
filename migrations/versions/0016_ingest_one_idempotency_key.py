"""An ingested event is written once to one unique key: the ledger's.

``booking_facts.event_id`` was unique too, but a fact is only ever stored in the transaction that
stores its event in ``ingested_events``, whose primary key already refuses a repeat: the second
index cost every fact a search and an insert in a b-tree of random keys. ``ingested_events`` also
lost an index by practice and time that nothing reads. ``bench/ingest.py``'s schema floor (the
rows of 100,000 events replayed into the schema, a transaction per batch of 500) took 4.31-4.83 s
against 4.84-6.29 s before, three rounds alternated with the code before (docs/PERFORMANCE.md).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 17:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0016'
down_revision: str | Sequence[str] | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_ingested_events_practice_time", table_name="ingested_events")
    with op.batch_alter_table("booking_facts") as batch_op:  # SQLite: the table is rebuilt without it
        batch_op.drop_constraint("uq_booking_facts_event_id", type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("booking_facts") as batch_op:
        batch_op.create_unique_constraint("uq_booking_facts_event_id", ["event_id"])
    op.create_index("ix_ingested_events_practice_time", "ingested_events", ["practice_id", "occurred_at"])
