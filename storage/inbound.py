"""Inbound events: the unique key that turns a provider's redelivery into a no-op."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboundEvent

TABLE: Any = InboundEvent.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation


async def record(
    session: AsyncSession, *, channel: str, external_id: str, citizen_id: int | None, at: datetime
) -> bool:
    """Record an inbound event; False when it was already recorded (a redelivery).

    ``INSERT … ON CONFLICT DO NOTHING RETURNING id`` (SQLite ≥ 3.35 and PostgreSQL)
    answers in one statement; a savepoint plus an ORM flush cost three round
    trips and were the largest single cost of a message on SQLite.
    """
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(TABLE)
        .values(channel=channel, external_id=external_id, citizen_id=citizen_id, received_at=at)
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
        .returning(TABLE.c.id)
    )
    inserted = (await session.execute(statement)).scalar_one_or_none()
    return inserted is not None


