"""Inbound events: the unique key that turns a provider's redelivery into a no-op."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboundEvent


async def record(
    session: AsyncSession, *, channel: str, external_id: str, citizen_id: int | None, at: datetime
) -> bool:
    """Record an inbound event; False when it was already recorded (a redelivery)."""
    try:
        async with session.begin_nested():
            session.add(
                InboundEvent(channel=channel, external_id=external_id, citizen_id=citizen_id, received_at=at)
            )
    except IntegrityError:
        return False
    return True
