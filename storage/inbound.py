"""Inbound events: the unique key that turns a provider's redelivery into a no-op; dead letters, the turns that raised."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import DeadLetter, InboundEvent
from storage.plain import Plain, insert_text

TABLE: Any = InboundEvent.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation


RECORD: Any = insert_text(
    TABLE, " ON CONFLICT (channel, external_id) DO NOTHING RETURNING id", columns=[c for c in TABLE.c if c.name != "id"]
)
"""Plain SQL, the same on SQLite (≥ 3.35) and PostgreSQL (`plain.insert_text`)."""
_RECORD: Final = Plain(RECORD)


async def record(
    session: AsyncSession, *, channel: str, external_id: str, citizen_id: int | None, at: datetime
) -> bool:
    """Record an inbound event; False when it was already recorded (a redelivery).

    ``INSERT … ON CONFLICT DO NOTHING RETURNING id`` answers in one statement; a savepoint
    plus an ORM flush cost three round trips and were the largest single cost of a message
    on SQLite.
    """
    params = {"channel": channel, "external_id": external_id, "citizen_id": citizen_id, "received_at": at}
    return bool(await _RECORD.rows(session, params))


async def record_failure(session: AsyncSession, *, channel: str, external_id: str, error: str, ref: str, at: datetime) -> None:
    """A dead letter: the inbound's key, the error's class and the log's reference; never what was written."""
    session.add(DeadLetter(channel=channel, external_id=external_id[:128], error=error[:80], ref=ref[:16], at=at))


async def failures_since(session: AsyncSession, *, since: datetime) -> int:
    """How many inbounds were recorded as failed since `since` (`/stato_sistema`)."""
    count = await session.scalar(select(func.count()).select_from(DeadLetter).where(col(DeadLetter.at) >= since))
    return int(count or 0)
