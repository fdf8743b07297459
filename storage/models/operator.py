"""Operators of a cooperative and the single-use invite codes they enrol with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from conversations.vocabulary import OperatorRole
from storage.models._columns import utc_field


class Operator(SQLModel, table=True):
    """One chat identity working for one cooperative (issue 7 adds admins and more roles)."""

    __tablename__ = "operator"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_operator_channel_external"),)

    id: int | None = Field(default=None, primary_key=True)
    cooperative_id: int = Field(foreign_key="cooperative.id", index=True, ondelete="CASCADE")
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=64)
    citizen_id: int | None = Field(default=None, foreign_key="citizen.id", ondelete="SET NULL")
    """The chat identity row the pipeline keeps for every sender (window, reachability)."""
    role: str = Field(default=OperatorRole.OPERATOR, max_length=16)
    language: str = Field(default="it", max_length=8)
    is_active: bool = True
    created_at: datetime = utc_field()


class Invite(SQLModel, table=True):
    __tablename__ = "invite"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=16)
    """Stored without separators, upper case: ``"K7MR4PXA"``."""
    cooperative_id: int = Field(foreign_key="cooperative.id", ondelete="CASCADE")
    role: str = Field(default=OperatorRole.OPERATOR, max_length=16)
    created_at: datetime = utc_field()
    expires_at: datetime = utc_field()
    used_at: datetime | None = utc_field(nullable=True, default=None)
    used_by_operator_id: int | None = Field(default=None, foreign_key="operator.id", ondelete="SET NULL")
