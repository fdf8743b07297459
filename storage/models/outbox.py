"""Replies waiting to be sent, or sent: a row survives until delivered or given up."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from sqlalchemy import JSON, Column, Index, Text, text
from sqlmodel import Field, SQLModel

from storage.models._columns import utc_field


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    HELD = "held"
    """Not sendable now (e.g. outside WhatsApp's window with no template): waits for an admin."""


PENDING_INTERACTIVE = "status = 'pending' AND broadcast_id IS NULL"
PENDING_BROADCAST = "status = 'pending' AND broadcast_id IS NOT NULL"
PENDING = "status = 'pending'"


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # `claim_batch` scans pending rows of each kind in id order: partial indexes keep that cheap
        # when 100,000 announcements (or years of sent rows) come before a reply (migration 0006).
        Index(
            "ix_outbox_pending_interactive",
            "id",
            postgresql_where=text(PENDING_INTERACTIVE),
            sqlite_where=text(PENDING_INTERACTIVE),
        ),
        Index(
            "ix_outbox_pending_broadcast",
            "id",
            postgresql_where=text(PENDING_BROADCAST),
            sqlite_where=text(PENDING_BROADCAST),
        ),
        # A chat's pending rows in id order: is this row its chat's oldest, and its first few rows,
        # probed once per row the claim walks (migration 0007; storage/outbox.claim_batch).
        Index(
            "ix_outbox_pending_chat",
            "channel",
            "recipient",
            "id",
            postgresql_where=text(PENDING),
            sqlite_where=text(PENDING),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    recipient: str = Field(max_length=64, index=True)
    citizen_id: int | None = Field(default=None, foreign_key="citizen.id", ondelete="SET NULL")
    text: str = Field(sa_type=Text)
    options: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    number_hint: str = Field(default="", max_length=200)
    conversation_version: int | None = None
    status: str = Field(default=OutboxStatus.PENDING, max_length=16)
    attempts: int = 0
    throttled_seconds: int = 0
    """How long the provider's 429s have made this row wait in all: bounded by the dispatcher (issue 13)."""
    next_attempt_at: datetime = utc_field()
    last_error: str | None = Field(default=None, max_length=300)
    provider_message_id: str | None = Field(default=None, max_length=64, index=True)
    error_code: str | None = Field(default=None, max_length=16)
    """The provider's own error code (Twilio 21610, Telegram 403), for admins."""
    created_at: datetime = utc_field()
    sent_at: datetime | None = utc_field(nullable=True, default=None)
    attachment_path: str | None = Field(default=None, max_length=300)
    """A local file sent with the text (the digest chart); senders attach it as a photo/document."""
    attachment_type: str | None = Field(default=None, max_length=100)
    """Its content type, e.g. ``image/png``."""
    broadcast_id: int | None = Field(default=None, foreign_key="broadcast.id", index=True, ondelete="SET NULL")
    """The `/annuncio` this row belongs to, so its progress can be tallied."""
    purge_recipient: bool = False
    """The last message to a citizen who erased their data: once sent, the recipient becomes a pseudonym."""
    need_id: str | None = Field(default=None, foreign_key="need.id", max_length=32, ondelete="SET NULL")
    """The need this message is about (an alert, a thread message): a Telegram reply to it finds the need."""
