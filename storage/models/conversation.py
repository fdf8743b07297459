"""Where each citizen is in a flow: one row per citizen, rewritten every turn."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from storage.models._columns import utc_field


class Conversation(SQLModel, table=True):
    __tablename__ = "conversation"

    citizen_id: int = Field(primary_key=True, foreign_key="citizen.id", ondelete="CASCADE")
    flow_id: str | None = Field(default=None, max_length=32)
    flow_version: int = 0
    step_id: str | None = Field(default=None, max_length=32)
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    history: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    misses: int = 0
    version: int = 0
    updated_at: datetime | None = utc_field(nullable=True, default=None)
