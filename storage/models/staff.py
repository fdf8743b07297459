"""Roles granted from the chat (admin), and broadcasts sent by admins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from conversations.vocabulary import Role
from storage.models._columns import utc_field


class StaffRole(SQLModel, table=True):
    """An admin granted by another admin; the `[admin]` section of the config always counts too.

    A revocation keeps the row (``revoked_at``) so the audit trail reads whole.
    """

    __tablename__ = "staff_role"
    __table_args__ = (Index("ix_staff_role_identity", "channel", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=64)
    role: str = Field(default=Role.ADMIN, max_length=16)
    granted_by: str = Field(max_length=64)
    """``"admin:telegram:123"``-style actor of the grant (staff identities are not citizens' data)."""
    granted_at: datetime = utc_field()
    revoked_at: datetime | None = utc_field(nullable=True, default=None)
    revoked_by: str | None = Field(default=None, max_length=64)


class Broadcast(SQLModel, table=True):
    """One `/annuncio`: its outbox rows carry `broadcast_id`; `reported_at` is set when the admin got the tally."""

    __tablename__ = "broadcast"

    id: int | None = Field(default=None, primary_key=True)
    requested_channel: str = Field(max_length=16)
    requested_by: str = Field(max_length=64)
    """The admin's chat id, to send the final report to."""
    comune_istat: str | None = Field(default=None, max_length=6)
    category_slug: str | None = Field(default=None, max_length=32)
    recipients: int = 0
    created_at: datetime = utc_field()
    reported_at: datetime | None = utc_field(nullable=True, default=None)
