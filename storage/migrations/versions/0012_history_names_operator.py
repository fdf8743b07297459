"""history names the operator: need_status_change.operator_id and the cooperative a change gave the need to

`/richiesta` shows "operatore #N" beside each change; a transfer (`/trasferisci`) is a history row
that names the cooperative it went to. Existing rows get their operator from `actor`
("operator:<id>"), when that operator still exists.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-03 17:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("need_status_change") as batch_op:
        batch_op.add_column(sa.Column("operator_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cooperative_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_status_change_operator", "operator", ["operator_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_foreign_key(
            "fk_status_change_cooperative", "cooperative", ["cooperative_id"], ["id"], ondelete="SET NULL"
        )
    op.execute(
        "UPDATE need_status_change SET operator_id = ("
        " SELECT operator.id FROM operator WHERE 'operator:' || CAST(operator.id AS VARCHAR) = need_status_change.actor)"
        " WHERE actor LIKE 'operator:%'"
    )


def downgrade() -> None:
    with op.batch_alter_table("need_status_change") as batch_op:
        batch_op.drop_constraint("fk_status_change_cooperative", type_="foreignkey")
        batch_op.drop_constraint("fk_status_change_operator", type_="foreignkey")
        batch_op.drop_column("cooperative_id")
        batch_op.drop_column("operator_id")
