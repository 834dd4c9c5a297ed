"""The bookings list's text search reads its name and reference indexes only.

A search branch ("aoife murphy": first name and last name prefixes) walked the last-name index
and read every matching booking's row to check the first name and sort by appointment: 2,848
row reads for "murphy" in a 200,000-booking practice, 7 ms. With the other name and the
appointment in the index the branch never touches the table: 0.2 ms. The new indexes replace
the narrower ones they extend.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 04:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0015'
down_revision: str | Sequence[str] | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (old name, old columns) -> (new name, new columns), all on bookings.
REPLACED = (
    (("ix_bookings_practice_reference_key", ["practice_id", "reference_key"]),
     ("ix_bookings_practice_reference_search", ["practice_id", "reference_key", "appointment_at", "id"])),
    (("ix_bookings_practice_last_name_key", ["practice_id", "last_name_key"]),
     ("ix_bookings_practice_last_name_search", ["practice_id", "last_name_key", "first_name_key", "appointment_at", "id"])),
    (("ix_bookings_practice_first_name_key", ["practice_id", "first_name_key"]),
     ("ix_bookings_practice_first_name_search", ["practice_id", "first_name_key", "last_name_key", "appointment_at", "id"])),
)


def upgrade() -> None:
    for (old, _), (new, columns) in REPLACED:
        op.create_index(new, "bookings", columns)
        op.drop_index(old, table_name="bookings")


def downgrade() -> None:
    for (old, columns), (new, _) in REPLACED:
        op.create_index(old, "bookings", columns)
        op.drop_index(new, table_name="bookings")
