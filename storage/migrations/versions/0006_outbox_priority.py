"""outbox priority: partial indexes on pending interactive and pending broadcast rows, in id order

`storage.outbox.claim_batch` claims replies before announcements; without these indexes its scan
for replies walks the primary key past every pending broadcast row (and every sent row) first.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 00:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out, not imported: a migration must not change when the models do.
PENDING_INTERACTIVE = "status = 'pending' AND broadcast_id IS NULL"
PENDING_BROADCAST = "status = 'pending' AND broadcast_id IS NOT NULL"


def upgrade() -> None:
    for name, where in (
        ("ix_outbox_pending_interactive", PENDING_INTERACTIVE),
        ("ix_outbox_pending_broadcast", PENDING_BROADCAST),
    ):
        op.create_index(
            name, "outbox", ["id"], unique=False, postgresql_where=sa.text(where), sqlite_where=sa.text(where)
        )


def downgrade() -> None:
    op.drop_index("ix_outbox_pending_broadcast", table_name="outbox")
    op.drop_index("ix_outbox_pending_interactive", table_name="outbox")
