"""Citizens: found or created by their channel identity."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Citizen


async def get_or_create(
    session: AsyncSession, *, channel: str, external_id: str, now: datetime, language: str = "it"
) -> Citizen:
    """The citizen behind a channel identity, locked for this transaction.

    Two first messages racing each other both end on the same row: the loser of
    the unique constraint reads the winner's.
    """
    query = select(Citizen).where(Citizen.channel == channel, Citizen.external_id == external_id)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    found: Citizen | None = (await session.execute(query)).scalar_one_or_none()
    if found is not None:
        return found
    citizen = Citizen(channel=channel, external_id=external_id, language=language, created_at=now)
    try:
        async with session.begin_nested():
            session.add(citizen)
    except IntegrityError:
        winner: Citizen = (await session.execute(query)).scalar_one()
        return winner
    return citizen


async def by_identity(session: AsyncSession, *, channel: str, external_id: str) -> Citizen | None:
    """The citizen behind a chat identity, unlocked (for messages we start, not for an inbound)."""
    query = select(Citizen).where(Citizen.channel == channel, Citizen.external_id == external_id)
    found: Citizen | None = (await session.execute(query)).scalar_one_or_none()
    return found


async def get(session: AsyncSession, *, citizen_id: int) -> Citizen | None:
    return await session.get(Citizen, citizen_id)
