"""Messages that came faster than their sender's turn budget: stored, answered in order later."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from storage.models._columns import utc_field


class DeferredInbound(SQLModel, table=True):
    """One inbound event waiting for its sender's budget (personal data: erasure and retention delete it).

    Its `inbound_event` row is written when it arrives, so a redelivery is still dropped; this row is
    deleted in the transaction that finally answers it, so it is answered exactly once.
    """

    __tablename__ = "deferred_inbound"
    __table_args__ = (Index("ix_deferred_inbound_citizen", "citizen_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    citizen_id: int = Field(foreign_key="citizen.id", ondelete="CASCADE")
    event: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    """The `Inbound` as JSON (`storage/deferred.py`): text, button, location, media references."""
    received_at: datetime = utc_field()
