"""admin rights: granted staff roles, broadcasts, citizens' broadcast opt-out and erasure

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_role",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("granted_by", sa.String(length=64), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("staff_role") as batch_op:
        batch_op.create_index("ix_staff_role_identity", ["channel", "external_id"], unique=False)
    op.create_table(
        "broadcast",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requested_channel", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("comune_istat", sa.String(length=6), nullable=True),
        sa.Column("category_slug", sa.String(length=32), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("citizen") as batch_op:
        batch_op.add_column(sa.Column("broadcasts_refused_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("outbox") as batch_op:
        # The XLSX content type is 65 characters long.
        batch_op.alter_column("attachment_type", existing_type=sa.String(length=64), type_=sa.String(length=100))
        batch_op.add_column(sa.Column("broadcast_id", sa.Integer(), nullable=True))
        # Existing rows are not last messages of an erasure: false.
        batch_op.add_column(sa.Column("purge_recipient", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f("ix_outbox_broadcast_id"), ["broadcast_id"], unique=False)
        batch_op.create_foreign_key("fk_outbox_broadcast", "broadcast", ["broadcast_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_constraint("fk_outbox_broadcast", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_outbox_broadcast_id"))
        batch_op.drop_column("purge_recipient")
        batch_op.drop_column("broadcast_id")
        batch_op.alter_column("attachment_type", existing_type=sa.String(length=100), type_=sa.String(length=64))
    with op.batch_alter_table("citizen") as batch_op:
        batch_op.drop_column("erased_at")
        batch_op.drop_column("broadcasts_refused_at")
    op.drop_table("broadcast")
    with op.batch_alter_table("staff_role") as batch_op:
        batch_op.drop_index("ix_staff_role_identity")
    op.drop_table("staff_role")
