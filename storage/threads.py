"""Needs' threads: who holds a need, what the cooperative and the citizen wrote, the conversation a citizen has open."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, update
from sqlalchemy import select as select_columns  # sqlmodel's select is typed for at most four columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage.models import Citizen, Cooperative, Direction, Need, NeedMessage, OutboxMessage


@dataclass(frozen=True, slots=True)
class Waiting:
    """A cooperative's message held behind WhatsApp's template, to show at the citizen's next message."""

    id: int
    need_id: str
    ticket: str
    cooperative: str
    body: str
    at: datetime


async def holder_of(session: AsyncSession, *, need_id: str) -> int | None:
    """The cooperative that holds a need now, from its current assignment (never a stored copy):
    after a transfer the new cooperative takes part in the thread and the old one no longer does."""
    found = await session.scalar(select(Need.claimed_by_cooperative_id).where(col(Need.id) == need_id))
    return int(found) if found is not None else None


async def add(
    session: AsyncSession,
    *,
    need_id: str,
    direction: Direction,
    body: str,
    at: datetime,
    operator_id: int | None = None,
    cooperative_id: int | None = None,
    waiting: bool = False,
) -> NeedMessage:
    row = NeedMessage(
        need_id=need_id,
        direction=direction,
        body=body,
        created_at=at,
        operator_id=operator_id,
        cooperative_id=cooperative_id,
        waiting=waiting,
    )
    session.add(row)
    await session.flush()
    return row


async def of_need(session: AsyncSession, *, need_id: str) -> Sequence[tuple[datetime, str, str]]:
    """The thread, oldest first: (when, `Direction`, text)."""
    rows = await session.execute(
        select(NeedMessage.created_at, NeedMessage.direction, NeedMessage.body)
        .where(col(NeedMessage.need_id) == need_id)
        .order_by(col(NeedMessage.id))
    )
    return [(at, str(d), str(b)) for at, d, b in rows.all()]


async def waiting_for(session: AsyncSession, *, citizen_id: int) -> list[Waiting]:
    """The cooperative messages held for this citizen, oldest first."""
    rows = await session.execute(
        select_columns(
            col(NeedMessage.id), col(NeedMessage.need_id), col(Need.ticket), col(Cooperative.name), col(NeedMessage.body), col(NeedMessage.created_at)
        )
        .join(Need, col(Need.id) == col(NeedMessage.need_id))
        .outerjoin(Cooperative, col(Cooperative.id) == col(NeedMessage.cooperative_id))
        .where(col(Need.citizen_id) == citizen_id, col(NeedMessage.waiting).is_(True))
        .order_by(col(NeedMessage.id))
    )
    return [Waiting(int(i), str(n), str(t), str(c or ""), str(b), at) for i, n, t, c, b, at in rows.all()]


async def mark_shown(session: AsyncSession, *, citizen: Citizen, ids: Sequence[int]) -> None:
    """The held messages were shown to the citizen in this turn."""
    if ids:
        await session.execute(update(NeedMessage).where(col(NeedMessage.id).in_(ids)).values(waiting=False))
    citizen.waiting_messages = 0


async def replied_to(
    session: AsyncSession, *, channel: str, recipient: str, provider_message_id: str
) -> tuple[str, str, int | None] | None:
    """The need a message we sent to this chat was about, as (need id, ticket, the need's citizen id):
    what a Telegram reply to it means. Only a message sent to the replying chat counts."""
    row = (
        await session.execute(
            select(Need.id, Need.ticket, Need.citizen_id)
            .join(OutboxMessage, col(OutboxMessage.need_id) == col(Need.id))
            .where(
                col(OutboxMessage.channel) == channel,
                col(OutboxMessage.recipient) == recipient,
                col(OutboxMessage.provider_message_id) == provider_message_id,
            )
            .limit(1)
        )
    ).first()
    return (str(row[0]), str(row[1]), row[2]) if row is not None else None


def open_for(citizen: Citizen, *, need_id: str, until: datetime) -> None:
    """The citizen's plain messages go to this need's cooperative until `until`."""
    citizen.thread_need_id = need_id
    citizen.thread_until = until


async def open_for_citizen(session: AsyncSession, *, citizen_id: int, need_id: str, until: datetime) -> None:
    """As `open_for`, from another person's turn (an operator wrote): one UPDATE, no read of the row."""
    await session.execute(
        update(Citizen).where(col(Citizen.id) == citizen_id).values(thread_need_id=need_id, thread_until=until)
    )


async def hold_for_citizen(session: AsyncSession, *, citizen_id: int) -> int:
    """One more message held behind the template; returns how many are held now (1: tell them)."""
    await session.execute(
        update(Citizen).where(col(Citizen.id) == citizen_id).values(waiting_messages=col(Citizen.waiting_messages) + 1)
    )
    held = await session.scalar(select(Citizen.waiting_messages).where(col(Citizen.id) == citizen_id))
    return int(held or 0)


def close_for(citizen: Citizen) -> None:
    citizen.thread_need_id = None
    citizen.thread_until = None


async def counts(session: AsyncSession, *, need_ids: Sequence[str]) -> dict[str, int]:
    """How many thread messages each need has: the number, never the words (exports)."""
    if not need_ids:
        return {}
    rows = await session.execute(
        select(NeedMessage.need_id, func.count()).where(col(NeedMessage.need_id).in_(need_ids)).group_by(col(NeedMessage.need_id))
    )
    return {str(n): int(c) for n, c in rows.all()}


async def erase(session: AsyncSession, *, need_ids: object) -> None:
    """Delete the threads of these needs (a list, or a subquery of ids): erasure and retention."""
    await session.execute(delete(NeedMessage).where(col(NeedMessage.need_id).in_(need_ids)))  # type: ignore[arg-type]
