"""A cooperative: its territory, the categories it serves and its digest schedule."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models._columns import utc_field


class Cooperative(SQLModel, table=True):
    __tablename__ = "cooperative"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, max_length=40)
    name: str = Field(max_length=120)
    digest_cron: str = Field(default="0 8 * * mon", max_length=64)
    """Five-field crontab (minute hour day month weekday), read in `timezone`."""
    timezone: str = Field(default="Europe/Rome", max_length=40)
    language: str = Field(default="it", max_length=8)
    is_active: bool = True
    created_at: datetime = utc_field()
    updated_at: datetime = utc_field()


class CooperativeTerritory(SQLModel, table=True):
    __tablename__ = "cooperative_territory"
    __table_args__ = (UniqueConstraint("cooperative_id", "kind", "code", name="uq_territory_coop_kind_code"),)

    id: int | None = Field(default=None, primary_key=True)
    cooperative_id: int = Field(foreign_key="cooperative.id", ondelete="CASCADE")
    kind: str = Field(max_length=16)
    """A `conversations.TerritoryKind`: what `code` names."""
    code: str = Field(max_length=40, index=True)


class CooperativeCategory(SQLModel, table=True):
    __tablename__ = "cooperative_category"

    cooperative_id: int = Field(primary_key=True, foreign_key="cooperative.id", ondelete="CASCADE")
    category_slug: str = Field(primary_key=True, foreign_key="category.slug", max_length=32)
