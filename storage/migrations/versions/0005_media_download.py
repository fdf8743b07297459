"""media download: the local copy of an inbound attachment and the state of fetching it

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 23:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("need_attachment") as batch_op:
        batch_op.add_column(sa.Column("local_path", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("fetch_status", sa.String(length=16), nullable=True))
        # Existing rows were stored as URL + content type only: nothing to fetch, no attempt made.
        batch_op.add_column(sa.Column("fetch_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("fetch_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("fetch_error", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_need_attachment_fetch_status"), ["fetch_status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("need_attachment") as batch_op:
        batch_op.drop_index(batch_op.f("ix_need_attachment_fetch_status"))
        batch_op.drop_column("fetch_error")
        batch_op.drop_column("fetch_due_at")
        batch_op.drop_column("fetch_attempts")
        batch_op.drop_column("fetch_status")
        batch_op.drop_column("sha256")
        batch_op.drop_column("local_path")
