"""demand summary: the public pages' counts by month, comune and category, refilled by the scheduler

`demand_month` (needs, uncovered, satisfaction answers) and `demand_duration` (claim and
resolution times in log-spaced buckets, one column each, per month and comune) are derived from the needs by
`storage/demand_summary.refresh`; `demand_refresh` says how far they cover. No person is named:
counts only, so erasure and retention leave them alone (docs/privacy.md).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 20:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUCKETS = 32
"""`conversations.durations.BUCKETS` when this was written (a migration does not follow the code)."""


def upgrade() -> None:
    op.create_table(
        "demand_month",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("comune_istat", sa.String(length=6), nullable=False),
        sa.Column("category_slug", sa.String(length=32), nullable=False),
        sa.Column("needs", sa.Integer(), nullable=False),
        sa.Column("uncovered", sa.Integer(), nullable=False),
        sa.Column("rated", sa.Integer(), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "comune_istat", "category_slug"),
    )
    op.create_table(
        "demand_duration",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("comune_istat", sa.String(length=6), nullable=False),
        *(sa.Column(f"{m}_{k:02d}", sa.Integer(), nullable=False) for m in ("claim", "resolve") for k in range(BUCKETS)),
        sa.PrimaryKeyConstraint("month", "comune_istat"),
    )
    op.create_table(
        "demand_refresh",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("method", sa.Integer(), nullable=False),
        sa.Column("covered_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("full_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("demand_refresh")
    op.drop_table("demand_duration")
    op.drop_table("demand_month")
