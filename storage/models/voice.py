"""Voice notes waiting to be transcribed, and their words (issue 16). Personal data: erasure and retention delete them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from storage.models._columns import utc_field


class VoiceNote(SQLModel, table=True):
    """One voice note of a citizen, claimed by the transcriber with a lease (`due_at`) like a media download.

    `status` is ``pending`` until it is listened to, then a `conversations.HeardOutcome`.
    """

    __tablename__ = "voice_note"
    __table_args__ = (Index("ix_voice_note_due", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    citizen_id: int = Field(foreign_key="citizen.id", index=True, ondelete="CASCADE")
    ref: str = Field(max_length=500)
    """The channel's reference of the audio (a Telegram file_id, a Twilio media URL), never the bytes."""
    content_type: str | None = Field(default=None, max_length=100)
    step: str | None = Field(default=None, max_length=64)
    """The question it was sent at: its words answer that question only."""
    status: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    due_at: datetime | None = utc_field(nullable=True, default=None)
    """When the next try may start, also the lease of a try in progress; None once heard."""
    error: str | None = Field(default=None, max_length=64)
    """Why the last try failed: a class name or a status, never a word of the note."""
    transcript: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    seconds: float | None = None
    created_at: datetime = utc_field()
