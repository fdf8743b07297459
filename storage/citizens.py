"""Citizens: the pipeline finds or creates them with their conversation (`conversations.with_citizen`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.models import Citizen


async def by_identity(session: AsyncSession, *, channel: str, external_id: str) -> Citizen | None:
    """The citizen behind a chat identity, unlocked (for messages we start, not for an inbound)."""
    query = select(Citizen).where(Citizen.channel == channel, Citizen.external_id == external_id)
    found: Citizen | None = (await session.execute(query)).scalar_one_or_none()
    return found


async def get(session: AsyncSession, *, citizen_id: int) -> Citizen | None:
    return await session.get(Citizen, citizen_id)


async def mark_unreachable(session: AsyncSession, *, citizen_id: int | None, now: datetime, is_opt_out: bool) -> None:
    """The provider says this chat cannot be reached (blocked bot, unknown number); STOP-like answers opt out too."""
    if citizen_id is not None:
        values: dict[str, object] = {"is_unreachable": True}
        if is_opt_out:
            values["opted_out_at"] = now
        await session.execute(update(Citizen).where(col(Citizen.id) == citizen_id).values(**values))
