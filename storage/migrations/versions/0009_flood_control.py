"""flood control: a partial index for fair outbox claims, a turn budget per citizen, deferred inbounds

`storage.outbox.claim_batch` claims the oldest pending row of every chat that has one due (not the
oldest rows overall, which one flooding chat could fill): it asks, for each row it walks, whether
an older pending row of the same chat exists, and then reads each chosen chat's first rows.
`ix_outbox_pending_chat` answers both from the pending rows alone.

A citizen's turn budget is one timestamp on their row (`paced_until`, GCRA); messages beyond it
are stored in `deferred_inbound` and answered in order as the budget allows (`bot/pacing.py`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out, not imported: a migration must not change when the models do.
PENDING = "status = 'pending'"


def upgrade() -> None:
    with op.batch_alter_table("citizen") as batch_op:
        batch_op.add_column(sa.Column("paced_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("deferred_inbounds", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "deferred_inbound",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizen.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_deferred_inbound_citizen", "deferred_inbound", ["citizen_id", "id"], unique=False)
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
    op.drop_index("ix_deferred_inbound_citizen", table_name="deferred_inbound")
    op.drop_table("deferred_inbound")
    with op.batch_alter_table("citizen") as batch_op:
        batch_op.drop_column("deferred_inbounds")
        batch_op.drop_column("paced_until")
