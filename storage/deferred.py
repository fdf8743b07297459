"""Messages waiting for their sender's turn budget (`bot/pacing.py`): stored in order, answered once.

The `Inbound` is kept as JSON through pydantic's `TypeAdapter` (the dataclass, its media, location
and timestamps, validated back into the same types), so nothing here knows its fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from pydantic import TypeAdapter
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from conversations import Inbound
from storage.models import Citizen, DeferredInbound

EVENT: Final = TypeAdapter(Inbound)


@dataclass(frozen=True, slots=True)
class Waiting:
    """A citizen's oldest stored message, with the identity it is answered on."""

    id: int
    citizen_id: int
    event: Inbound


def encode(event: Inbound) -> dict[str, Any]:
    return dict(EVENT.dump_python(event, mode="json"))


def decode(data: dict[str, Any]) -> Inbound:
    return EVENT.validate_python(data)


async def store(session: AsyncSession, *, citizen_id: int, event: Inbound, now: datetime) -> None:
    session.add(DeferredInbound(citizen_id=citizen_id, event=encode(event), received_at=now))


async def take(session: AsyncSession, *, citizen_id: int, deferred_id: int) -> bool:
    """Delete the stored message whose turn it is, in the transaction that answers it; False if it is gone."""
    result = await session.execute(
        delete(DeferredInbound)
        .where(col(DeferredInbound.id) == deferred_id, col(DeferredInbound.citizen_id) == citizen_id)
        .returning(col(DeferredInbound.id))
    )
    return result.first() is not None


async def due(session: AsyncSession, *, paced_until_by: datetime, limit: int) -> list[Waiting]:
    """The oldest stored message of each citizen whose budget allows a turn (`paced_until` ≤ the bound), oldest first.

    Read without locks: the pipeline locks the citizen and `take`s the row, so a row another worker
    answered meanwhile is simply skipped.
    """
    heads = select(func.min(DeferredInbound.id)).group_by(col(DeferredInbound.citizen_id))
    query = (
        select(
            col(DeferredInbound.id),
            col(DeferredInbound.citizen_id),
            col(DeferredInbound.event),
            col(Citizen.channel),
            col(Citizen.external_id),
        )
        .join(Citizen, col(Citizen.id) == col(DeferredInbound.citizen_id))
        .where(
            col(DeferredInbound.id).in_(heads),
            (col(Citizen.paced_until).is_(None)) | (col(Citizen.paced_until) <= paced_until_by),
        )
        .order_by(col(DeferredInbound.id))
        .limit(limit)
    )
    waiting = []
    for deferred_id, citizen_id, event, channel, external_id in (await session.execute(query)).all():
        stored = decode(event)
        # Answered on the identity as it is now (the row holds what arrived).
        waiting.append(Waiting(deferred_id, citizen_id, _on(stored, channel=channel, sender=external_id)))
    return waiting


def _on(event: Inbound, *, channel: str, sender: str) -> Inbound:
    return replace(event, channel=channel, sender=sender)


async def earliest_paced_until(session: AsyncSession) -> datetime | None:
    """The earliest budget among citizens with stored messages: when the next one may be answered."""
    return await session.scalar(
        select(func.min(Citizen.paced_until)).where(
            col(Citizen.id).in_(select(col(DeferredInbound.citizen_id))), col(Citizen.deferred_inbounds) > 0
        )
    )


async def erase(session: AsyncSession, *, citizen_id: int) -> int:
    """Erasure: every stored message of the citizen goes (the caller resets their count)."""
    result = await session.execute(delete(DeferredInbound).where(col(DeferredInbound.citizen_id) == citizen_id))
    return int(getattr(result, "rowcount", 0) or 0)


async def expire(session: AsyncSession, *, received_before: datetime) -> int:
    """Retention: stored messages older than the retention period go, and their citizens' counts follow."""
    citizens: Sequence[int] = (
        await session.execute(
            select(col(DeferredInbound.citizen_id)).where(col(DeferredInbound.received_at) < received_before).distinct()
        )
    ).scalars().all()
    if not citizens:
        return 0
    result = await session.execute(delete(DeferredInbound).where(col(DeferredInbound.received_at) < received_before))
    remaining = (
        select(func.count())
        .select_from(DeferredInbound)
        .where(col(DeferredInbound.citizen_id) == col(Citizen.id))
        .scalar_subquery()
    )
    await session.execute(update(Citizen).where(col(Citizen.id).in_(citizens)).values(deferred_inbounds=remaining))
    return int(getattr(result, "rowcount", 0) or 0)
