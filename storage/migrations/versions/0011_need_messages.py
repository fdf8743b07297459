"""need messages: the thread between the holding cooperative and the citizen, and what points into it

`need_message` holds what each side wrote (personal data: erased with the citizen and by
retention). `outbox.need_id` says which need a sent message was about, so a Telegram reply to it
finds the need. `citizen.thread_need_id`/`thread_until` is the conversation with a cooperative
the citizen has open; `citizen.waiting_messages` counts cooperative messages held behind
WhatsApp's template until the citizen answers.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "need_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("need_id", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("cooperative_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("waiting", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(["need_id"], ["need.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["operator_id"], ["operator.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["cooperative_id"], ["cooperative.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_need_message_need", "need_message", ["need_id", "id"], unique=False)
    with op.batch_alter_table("citizen") as batch_op:
        batch_op.add_column(sa.Column("thread_need_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("thread_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("waiting_messages", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.add_column(sa.Column("need_id", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key("fk_outbox_need", "need", ["need_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_constraint("fk_outbox_need", type_="foreignkey")
        batch_op.drop_column("need_id")
    with op.batch_alter_table("citizen") as batch_op:
        batch_op.drop_column("waiting_messages")
        batch_op.drop_column("thread_until")
        batch_op.drop_column("thread_need_id")
    op.drop_index("ix_need_message_need", table_name="need_message")
    op.drop_table("need_message")
