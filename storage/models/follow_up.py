"""One row per scheduled message about a need (follow-up, satisfaction, reminder, escalation)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models._columns import utc_field


class FollowUp(SQLModel, table=True):
    """Written before sending: the unique key makes a second worker or a restart a no-op."""

    __tablename__ = "follow_up"
    __table_args__ = (UniqueConstraint("need_id", "kind", name="uq_follow_up_need_kind"),)

    id: int | None = Field(default=None, primary_key=True)
    need_id: str = Field(foreign_key="need.id", max_length=32, ondelete="CASCADE")
    kind: str = Field(max_length=24)
    """A `conversations.FollowUpKind`."""
    sent_at: datetime = utc_field()
    answered_at: datetime | None = utc_field(nullable=True, default=None)
    answer: str | None = Field(default=None, max_length=16)
