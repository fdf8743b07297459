"""A person who writes to the bot, once per channel identity."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models._columns import utc_field


class Citizen(SQLModel, table=True):
    __tablename__ = "citizen"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_citizen_channel_external"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=64)
    """Chat id or phone number: needed to answer, erased with the citizen's data."""
    language: str = Field(default="it", max_length=8)
    consent_version: int | None = None
    consent_at: datetime | None = utc_field(nullable=True, default=None)
    is_unreachable: bool = False
    """The channel told us they blocked the bot; we stop sending until they write again."""
    last_inbound_at: datetime | None = utc_field(nullable=True, default=None)
    """Opens WhatsApp's 24-hour customer-service window."""
    opted_out_at: datetime | None = utc_field(nullable=True, default=None)
    """Set by WhatsApp STOP (or Twilio error 21610); cleared by START."""
    created_at: datetime = utc_field()
    broadcasts_refused_at: datetime | None = utc_field(nullable=True, default=None)
    """Set by /stop_annunci: no /annuncio reaches them (STOP on WhatsApp stops them too)."""
    erased_at: datetime | None = utc_field(nullable=True, default=None)
    """Set by /cancella_dati; the external id becomes a pseudonym once the last message is sent."""
    paced_until: datetime | None = utc_field(nullable=True, default=None)
    """The turn budget is spent up to here (GCRA's theoretical arrival time, `bot/pacing.py`): a message
    is answered now if this is at most `turn_burst` − 1 intervals ahead of now."""
    deferred_inbounds: int = 0
    """Messages stored in `deferred_inbound` and not yet answered: while there are any, new ones wait behind them."""
    thread_need_id: str | None = Field(default=None, max_length=32)
    """The need whose cooperative the citizen is talking to: their plain messages go there (`thread_until`).
    No foreign key: `need.citizen_id` already points here, and a cycle would leave no order to create tables in."""
    thread_until: datetime | None = utc_field(nullable=True, default=None)
    """The conversation with the cooperative stays open until then; each message moves it on."""
    waiting_messages: int = 0
    """Cooperative messages held behind WhatsApp's template: shown at the citizen's next message."""
