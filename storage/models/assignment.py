"""Which needs were routed to which cooperative, and the notes operators add to a need."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from conversations.vocabulary import AssignmentStatus
from storage.models._columns import utc_field


class NeedAssignment(SQLModel, table=True):
    """A need offered to a cooperative; `routed_at` copies the need's creation time for the digest index."""

    __tablename__ = "need_assignment"
    __table_args__ = (
        UniqueConstraint("need_id", "cooperative_id", name="uq_assignment_need_coop"),
        Index("ix_assignment_coop_routed", "cooperative_id", "routed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    need_id: str = Field(foreign_key="need.id", max_length=32, ondelete="CASCADE")
    cooperative_id: int = Field(foreign_key="cooperative.id", ondelete="CASCADE")
    status: str = Field(default=AssignmentStatus.ROUTED, max_length=16)
    routed_at: datetime = utc_field()
    declined_at: datetime | None = utc_field(nullable=True, default=None)
    declined_by_operator_id: int | None = Field(default=None, foreign_key="operator.id", ondelete="SET NULL")


class NeedNote(SQLModel, table=True):
    """A note an operator adds with /nota; the text is erased by retention."""

    __tablename__ = "need_note"

    id: int | None = Field(default=None, primary_key=True)
    need_id: str = Field(foreign_key="need.id", index=True, max_length=32, ondelete="CASCADE")
    operator_id: int | None = Field(default=None, foreign_key="operator.id", ondelete="SET NULL")
    text: str = Field(max_length=1000)
    at: datetime = utc_field()
