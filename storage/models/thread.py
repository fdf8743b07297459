"""A need's thread: what the holding cooperative and the citizen wrote to each other through the bot."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from storage.models._columns import utc_field


class Direction(StrEnum):
    """Who wrote a thread message (`need_message.direction`)."""

    TO_CITIZEN = "alla_persona"
    """The cooperative wrote (`/scrivi`, or a Telegram reply to the need's alert)."""
    FROM_CITIZEN = "dalla_persona"
    """The citizen wrote to the cooperative."""
    INFO = "informazioni"
    """The citizen added information to the request."""


class NeedMessage(SQLModel, table=True):
    """One message of a need's thread (personal data: erased with the citizen, and by retention)."""

    __tablename__ = "need_message"
    __table_args__ = (Index("ix_need_message_need", "need_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    need_id: str = Field(foreign_key="need.id", max_length=32, ondelete="CASCADE")
    direction: str = Field(max_length=16)
    """A `Direction`."""
    operator_id: int | None = Field(default=None, foreign_key="operator.id", ondelete="SET NULL")
    """The operator who wrote it; None for the citizen's messages."""
    cooperative_id: int | None = Field(default=None, foreign_key="cooperative.id", ondelete="SET NULL")
    """The cooperative that held the need when it was written (kept across a transfer)."""
    body: str = Field(sa_type=Text)
    created_at: datetime = utc_field()
    waiting: bool = False
    """To the citizen, outside WhatsApp's 24-hour window: only the template told them; shown when they answer."""
