"""long descriptions: a need's description holds a whole Telegram message (4096 characters), not 1000

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("need") as batch_op:
        batch_op.alter_column("description", existing_type=sa.String(length=1000), type_=sa.String(length=4096), existing_nullable=False)


def downgrade() -> None:
    # Longer descriptions are cut to the old length first, or PostgreSQL refuses the change.
    op.execute("UPDATE need SET description = substr(description, 1, 1000) WHERE length(description) > 1000")
    with op.batch_alter_table("need") as batch_op:
        batch_op.alter_column("description", existing_type=sa.String(length=4096), type_=sa.String(length=1000), existing_nullable=False)
