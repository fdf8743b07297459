"""Citizens: the pipeline finds or creates them with their conversation (`conversations.with_citizen`)."""

from __future__ import annotations

from sqlmodel import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Citizen


async def by_identity(session: AsyncSession, *, channel: str, external_id: str) -> Citizen | None:
    """The citizen behind a chat identity, unlocked (for messages we start, not for an inbound)."""
    query = select(Citizen).where(Citizen.channel == channel, Citizen.external_id == external_id)
    found: Citizen | None = (await session.execute(query)).scalar_one_or_none()
    return found


async def get(session: AsyncSession, *, citizen_id: int) -> Citizen | None:
    return await session.get(Citizen, citizen_id)
