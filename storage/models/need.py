"""A need a citizen reported, its status history and attachments."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from conversations.vocabulary import NeedStatus
from storage.models._columns import utc_field


class Need(SQLModel, table=True):
    __tablename__ = "need"

    id: str = Field(primary_key=True, max_length=32)
    ticket: str = Field(unique=True, max_length=8)
    citizen_id: int | None = Field(default=None, foreign_key="citizen.id", index=True, ondelete="SET NULL")
    category_slug: str = Field(foreign_key="category.slug", max_length=32, index=True)
    description: str = Field(max_length=4096)
    comune_istat: str = Field(foreign_key="comune.istat_code", max_length=6, index=True)
    urgency: str = Field(max_length=8)
    contact_method: str = Field(max_length=16)
    contact_phone: str | None = Field(default=None, max_length=20)
    latitude: float | None = None
    longitude: float | None = None
    status: str = Field(default=NeedStatus.NEW, max_length=20, index=True)
    """A `NeedStatus`."""
    created_at: datetime = utc_field(index=True)
    updated_at: datetime = utc_field()
    claimed_by_cooperative_id: int | None = Field(
        default=None, foreign_key="cooperative.id", ondelete="SET NULL", index=True
    )
    claimed_by_operator_id: int | None = Field(default=None, foreign_key="operator.id", ondelete="SET NULL")
    claimed_at: datetime | None = utc_field(nullable=True, default=None)
    resolved_at: datetime | None = utc_field(nullable=True, default=None)
    """When it became `risolta` (time to resolve, satisfaction question)."""
    closed_at: datetime | None = utc_field(nullable=True, default=None)
    """When it first became `risolta` or `chiusa`: retention counts from here."""
    follow_up_answer: str | None = Field(default=None, max_length=16)
    """The citizen's answer to "is it still needed?": ``si``, ``no``, ``da_sola``."""
    satisfaction: int | None = None
    """1-5, asked after resolution."""
    satisfaction_comment: str | None = Field(default=None, max_length=1000)
    anonymised_at: datetime | None = utc_field(nullable=True, default=None)


class NeedStatusChange(SQLModel, table=True):
    __tablename__ = "need_status_change"

    id: int | None = Field(default=None, primary_key=True)
    need_id: str = Field(foreign_key="need.id", index=True, max_length=32, ondelete="CASCADE")
    from_status: str | None = Field(default=None, max_length=20)
    """A `NeedStatus`; None on the first row (the need was created)."""
    to_status: str = Field(max_length=20)
    actor: str = Field(max_length=64)
    """"citizen", or "operator:<id>": never a name."""
    operator_id: int | None = Field(default=None, foreign_key="operator.id", ondelete="SET NULL")
    """The operator behind the change (`/richiesta` shows "operatore #N"); None: the citizen, an admin, the system."""
    cooperative_id: int | None = Field(default=None, foreign_key="cooperative.id", ondelete="SET NULL")
    """The cooperative the change gave the need to (a claim, an assignment, a transfer)."""
    note: str | None = Field(default=None, max_length=1000)
    at: datetime = utc_field()


class NeedAttachment(SQLModel, table=True):
    __tablename__ = "need_attachment"

    id: int | None = Field(default=None, primary_key=True)
    need_id: str = Field(foreign_key="need.id", index=True, max_length=32, ondelete="CASCADE")
    kind: str = Field(max_length=16)
    ref: str = Field(max_length=500)
    content_type: str | None = Field(default=None, max_length=100)
    size: int | None = None
    local_path: str | None = Field(default=None, max_length=300)
    """The downloaded copy (``[whatsapp] download_media``), under a generated name; `ref` stays the source."""
    sha256: str | None = Field(default=None, max_length=64)
    fetch_status: str | None = Field(default=None, max_length=16, index=True)
    """None: nothing to fetch; `FetchStatus` otherwise."""
    fetch_attempts: int = Field(default=0)
    fetch_due_at: datetime | None = utc_field(nullable=True, default=None)
    """When the next try may start (also the lease of a try in progress)."""
    fetch_error: str | None = Field(default=None, max_length=64)
    """Why the last try failed: a status or a class name, never a URL."""
    transcript: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """A voice note's words, transcribed on our server (issue 16): shown to operators next to the audio."""


class FetchStatus(StrEnum):
    PENDING = "pending"
    STORED = "stored"
    FAILED = "failed"
