"""Every inbound event we accepted: the key that makes redeliveries harmless."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models._columns import utc_field


class InboundEvent(SQLModel, table=True):
    """Holds no message text: deduplication needs only the provider's id."""

    __tablename__ = "inbound_event"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_inbound_channel_external"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=128)
    citizen_id: int | None = Field(default=None, foreign_key="citizen.id", ondelete="SET NULL")
    received_at: datetime = utc_field()


class DeadLetter(SQLModel, table=True):
    """An inbound whose turn raised: recorded instead of applied, so the channel moves on (issue 13).

    No message text and no chat id: the provider's event id, the error's class, and the short
    reference the log line carries, so an operator can find one from the other.
    """

    __tablename__ = "dead_letter"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=128)
    error: str = Field(max_length=80)
    """The exception's class name (with the driver's, for a database error): never its message."""
    ref: str = Field(max_length=16, index=True)
    at: datetime = utc_field(index=True)
