"""The bookings list's walks and text-search branches read their indexes only.

A rare search ("aoife murphy": first and last name prefixes) walked the last-name index and read
every matching booking's row to check the first name and sort by appointment: 2,848 row reads
for "murphy" in a 200,000-booking practice, 7 ms. With the other name and the appointment in
the name indexes, the branch never touches the table: 0.2 ms.

A common search ("walsh", "mur") walks the appointment order (or one status's, with a status
filter) and read the row of every booking it passed to check the names: 10.8 ms, and 4.8 ms with
``diary_status``. With the search keys in those indexes the walk checks them on the index:
1.0 ms and 0.3 ms. Each new index replaces the narrower one it extends.

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

KEYS = ["reference_key", "last_name_key", "first_name_key"]

# (old name, old columns) -> (new name, new columns), all on bookings.
REPLACED = [
    (("ix_bookings_practice_appointment", ["practice_id", "appointment_at", "id"]),
     ("ix_bookings_practice_appointment_search", ["practice_id", "appointment_at", "id", *KEYS])),
    *(((f"ix_bookings_practice_{name}", ["practice_id", column, "appointment_at", "id"]),
       (f"ix_bookings_practice_{name}_search", ["practice_id", column, "appointment_at", "id", *KEYS]))
      for name, column in (("email_status", "email_status"), ("diary_status", "diary_status"),
                           ("received", "received_ways"))),
    (("ix_bookings_practice_reference_key", ["practice_id", "reference_key"]),
     ("ix_bookings_practice_reference_search", ["practice_id", "reference_key", "appointment_at", "id"])),
    (("ix_bookings_practice_last_name_key", ["practice_id", "last_name_key"]),
     ("ix_bookings_practice_last_name_search", ["practice_id", "last_name_key", "first_name_key", "appointment_at", "id"])),
    (("ix_bookings_practice_first_name_key", ["practice_id", "first_name_key"]),
     ("ix_bookings_practice_first_name_search", ["practice_id", "first_name_key", "last_name_key", "appointment_at", "id"])),
]


def upgrade() -> None:
    for (old, _), (new, columns) in REPLACED:
        op.create_index(new, "bookings", columns)
        op.drop_index(old, table_name="bookings")


def downgrade() -> None:
    for (old, columns), (new, _) in REPLACED:
        op.create_index(old, "bookings", columns)
        op.drop_index(new, table_name="bookings")
