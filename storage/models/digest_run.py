"""One row per cooperative digest period, written before the digest is sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models._columns import utc_field


class DigestRun(SQLModel, table=True):
    __tablename__ = "digest_run"
    __table_args__ = (UniqueConstraint("cooperative_id", "period_start", name="uq_digest_run_coop_period"),)

    id: int | None = Field(default=None, primary_key=True)
    cooperative_id: int = Field(foreign_key="cooperative.id", ondelete="CASCADE")
    period_start: datetime = utc_field()
    period_end: datetime = utc_field()
    started_at: datetime = utc_field()
    recipients: int = 0
