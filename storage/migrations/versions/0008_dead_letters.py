"""dead letters: inbounds whose turn raised, and the total time a provider's 429s held each outbox row

A turn that raises for a reason of its own (not a database outage) is rolled back and recorded in
`dead_letter` with the inbound's key, so the channel moves on and a redelivery is a duplicate;
`outbox.throttled_seconds` sums the waits a provider asked for, so a 429 that never ends fails the
row after a bounded total instead of retrying it for ever.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dead_letter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("error", sa.String(length=80), nullable=False),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dead_letter") as batch_op:
        batch_op.create_index(batch_op.f("ix_dead_letter_ref"), ["ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_dead_letter_at"), ["at"], unique=False)
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.add_column(sa.Column("throttled_seconds", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_column("throttled_seconds")
    with op.batch_alter_table("dead_letter") as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_letter_at"))
        batch_op.drop_index(batch_op.f("ix_dead_letter_ref"))
    op.drop_table("dead_letter")
