"""Citizens: the pipeline finds or creates them with their conversation (`conversations.with_citizen`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Citizen


async def get(session: AsyncSession, *, citizen_id: int) -> Citizen | None:
    return await session.get(Citizen, citizen_id)
