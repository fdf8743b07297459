"""flood control: a partial index for fair outbox claims

`storage.outbox.claim_batch` claims the oldest pending row of every chat that has one due (not the
oldest rows overall, which one flooding chat could fill): it asks, for each row it walks, whether
an older pending row of the same chat exists, and then reads each chosen chat's first rows.
`ix_outbox_pending_chat` answers both from the pending rows alone.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out, not imported: a migration must not change when the models do.
PENDING = "status = 'pending'"


def upgrade() -> None:
    op.create_index(
        "ix_outbox_pending_chat",
        "outbox",
        ["channel", "recipient", "id"],
        unique=False,
        postgresql_where=sa.text(PENDING),
        sqlite_where=sa.text(PENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_pending_chat", table_name="outbox")
