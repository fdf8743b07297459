"""Leased claims of queued work (media downloads, voice notes): a conditional update per row, on the database's clock."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlmodel import col, select


async def claim(
    session: AsyncSession,
    *,
    id_: InstrumentedAttribute[Any],
    status: InstrumentedAttribute[Any],
    due: InstrumentedAttribute[Any],
    attempts: InstrumentedAttribute[Any],
    pending: str,
    now: object,
    lease_until: object,
    limit: int,
) -> list[int]:
    """The ids of up to `limit` pending rows due by `now`, each leased until `lease_until` and counted as one more attempt.

    Each row is taken by an update that holds only if its status and due time are still the ones
    read, so two workers never take the same row, and a worker that dies leaves a lease that runs out.
    """
    table = id_.class_
    candidates = (
        await session.execute(
            select(id_, due).where(col(status) == pending, col(due) <= now).order_by(col(due), col(id_)).limit(limit)
        )
    ).all()
    claimed: list[int] = []
    for row_id, due_at in candidates:
        result = await session.execute(
            update(table)
            .where(col(id_) == row_id, col(status) == pending, col(due) == due_at)
            .values({due.key: lease_until, attempts.key: col(attempts) + 1})
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 1 and row_id is not None:
            claimed.append(row_id)
    return claimed
