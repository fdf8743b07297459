"""The outbox: replies written with the state that produced them, sent later by the dispatcher."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, insert, update
from sqlmodel import col, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage, OutboxStatus

SCAN_FACTOR = 4
"""How many pending rows to look at per row claimed: later rows of a busy chat wait their turn."""


async def enqueue(
    session: AsyncSession,
    *,
    channel: str,
    recipient: str,
    citizen_id: int | None,
    text: str,
    options: Sequence[tuple[str, str]] = (),
    number_hint: str = "",
    conversation_version: int | None = None,
    now: datetime,
) -> OutboxMessage:
    row = OutboxMessage(
        channel=channel,
        recipient=recipient,
        citizen_id=citizen_id,
        text=text,
        options=[{"payload": p, "label": label} for p, label in options],
        number_hint=number_hint,
        conversation_version=conversation_version,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    return row


TABLE: Any = OutboxMessage.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation


def row(
    *,
    channel: str,
    recipient: str,
    citizen_id: int | None,
    text: str,
    options: Sequence[tuple[str, str]] = (),
    number_hint: str = "",
    conversation_version: int | None = None,
    now: datetime,
    purge_recipient: bool = False,
) -> dict[str, object]:
    """The column values of a pending reply, for `enqueue_many` (the other columns take their defaults)."""
    return {
        "channel": channel,
        "recipient": recipient,
        "citizen_id": citizen_id,
        "text": text,
        "options": [{"payload": p, "label": label} for p, label in options],
        "number_hint": number_hint,
        "conversation_version": conversation_version,
        "next_attempt_at": now,
        "created_at": now,
        "purge_recipient": purge_recipient,
    }


async def enqueue_many(session: AsyncSession, rows: Sequence[dict[str, object]]) -> None:
    """Insert replies built by `row` in one executemany, in order (ids ascend as the list does).

    No ORM objects: the pipeline never reads them back, and a flush of N objects cost N
    statements and N thread hand-offs on SQLite. An executemany, not one multi-row VALUES:
    SQLAlchemy compiles the latter again for every call.
    """
    if rows:
        await session.flush()  # rows added as ORM objects earlier in the transaction keep the lower ids
        await session.execute(insert(TABLE), list(rows))


async def claim_batch(
    session: AsyncSession, *, channels: Sequence[str], now: datetime, limit: int, lease: timedelta
) -> list[OutboxMessage]:
    """Claim due rows, oldest first, keeping each chat's replies in order.

    A claimed row's `next_attempt_at` moves to the end of its lease: if this
    worker dies while sending, the row becomes due again (at-least-once on a
    crash, exactly-once otherwise). A chat whose oldest pending row is not due
    (claimed elsewhere, or backing off) gets nothing newer claimed, so replies
    never overtake each other. On PostgreSQL, SKIP LOCKED lets several workers
    claim side by side.
    """
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING, col(OutboxMessage.channel).in_(channels))
        .order_by(col(OutboxMessage.id))
        .limit(limit * SCAN_FACTOR)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = (await session.execute(query)).scalars().all()
    blocked = await _chats_with_hidden_rows(session, rows)
    claimed: list[OutboxMessage] = []
    for row in rows:
        key = (row.channel, row.recipient)
        if key in blocked:
            continue
        if row.next_attempt_at > now:
            blocked.add(key)
            continue
        claimed.append(row)
        row.next_attempt_at = now + lease
        if len(claimed) >= limit:
            break
    await session.flush()
    return claimed


async def _chats_with_hidden_rows(session: AsyncSession, rows: Sequence[OutboxMessage]) -> set[tuple[str, str]]:
    """Chats with an older pending row that our scan did not return: it is being claimed by another
    worker (SKIP LOCKED hid it), so nothing newer of that chat may go before it. Without this, a
    reply committed after worker A's scan overtook A's rows (tests/faults/test_outbox_across_workers.py)."""
    first: dict[tuple[str, str], int] = {}
    for row in rows:
        assert row.id is not None
        first.setdefault((row.channel, row.recipient), row.id)
    if not first:
        return set()
    oldest = await session.execute(
        select(OutboxMessage.channel, OutboxMessage.recipient, func.min(OutboxMessage.id))
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            col(OutboxMessage.channel).in_({channel for channel, _ in first}),
            col(OutboxMessage.recipient).in_({recipient for _, recipient in first}),
        )
        .group_by(OutboxMessage.channel, OutboxMessage.recipient)
    )
    return {(channel, recipient) for channel, recipient, min_id in oldest.all() if first.get((channel, recipient), min_id) > min_id}


async def mark_sent(session: AsyncSession, *, message_id: int, provider_message_id: str | None, now: datetime) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id)
        .values(
            # A delivery callback can land before this commit (WhatsApp): never move it backwards.
            status=case((col(OutboxMessage.status) == OutboxStatus.PENDING, OutboxStatus.SENT), else_=col(OutboxMessage.status)),
            provider_message_id=provider_message_id,
            sent_at=now,
            last_error=None,
        )
    )


async def retry_at(
    session: AsyncSession, *, message_id: int, at: datetime, error: str, count_attempt: bool = True
) -> None:
    values: dict[str, object] = {"next_attempt_at": at, "last_error": error[:300]}
    if count_attempt:
        values["attempts"] = OutboxMessage.attempts + 1
    await session.execute(update(OutboxMessage).where(col(OutboxMessage.id) == message_id).values(**values))


async def release(session: AsyncSession, *, message_ids: Sequence[int], now: datetime) -> None:
    """Give back claimed rows that were not attempted (an earlier row of their chat failed)."""
    if message_ids:
        await session.execute(
            update(OutboxMessage).where(col(OutboxMessage.id).in_(message_ids)).values(next_attempt_at=now)
        )


async def fail(session: AsyncSession, *, message_id: int, error: str, error_code: str | None = None) -> None:
    values: dict[str, object] = {
        "status": OutboxStatus.FAILED,
        "last_error": error[:300],
        "attempts": OutboxMessage.attempts + 1,
    }
    if error_code is not None:
        values["error_code"] = error_code[:16]
    await session.execute(update(OutboxMessage).where(col(OutboxMessage.id) == message_id).values(**values))


async def fail_recipient(session: AsyncSession, *, channel: str, recipient: str, error: str) -> int:
    """Fail every pending row to a chat that blocked us: retrying would only spam the provider."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.channel) == channel,
            col(OutboxMessage.recipient) == recipient,
            col(OutboxMessage.status) == OutboxStatus.PENDING,
        )
        .values(status=OutboxStatus.FAILED, last_error=error[:300])
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    result = await session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    return {str(status): int(n) for status, n in result.all()}


async def next_due(session: AsyncSession, *, channels: Sequence[str]) -> datetime | None:
    """When the earliest pending row becomes due, so the dispatcher can sleep until then."""
    return await session.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.status == OutboxStatus.PENDING, col(OutboxMessage.channel).in_(channels)
        )
    )
