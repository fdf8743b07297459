"""The outbox: replies written with the state that produced them, sent later by the dispatcher."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, func, insert, text, update
from sqlmodel import col, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage, OutboxStatus
from storage.models.outbox import PENDING_BROADCAST, PENDING_INTERACTIVE

SCAN_FACTOR = 4
"""How many pending rows to look at per row claimed: later rows of a busy chat wait their turn."""

PENDING_INDEXES = {
    True: ("ix_outbox_pending_interactive", PENDING_INTERACTIVE),
    False: ("ix_outbox_pending_broadcast", PENDING_BROADCAST),
}
"""The partial index each pass of `claim_batch` walks in id order (interactive first), and its condition."""


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


Chat = tuple[str, str]


async def claim_batch(
    session: AsyncSession, *, channels: Sequence[str], now: datetime, limit: int, lease: timedelta
) -> list[OutboxMessage]:
    """Claim due rows, interactive chats first, keeping each chat's replies in id order.

    Two passes so that a citizen never waits behind an announcement: first the rows with no
    `broadcast_id` (replies, notifications to staff), oldest first, then, if the batch has
    room, broadcast rows, oldest first. A chat with an interactive row pending is served in
    the first pass as a whole: its older broadcast rows are promoted with it, so within a chat
    rows still go out in id order (a reply never overtakes the announcement sent before it).

    A claimed row's `next_attempt_at` moves to the end of its lease: if this
    worker dies while sending, the row becomes due again (at-least-once on a
    crash, exactly-once otherwise). A chat whose oldest pending row is not due
    (claimed elsewhere, or backing off) gets nothing newer claimed, so replies
    never overtake each other. On PostgreSQL, SKIP LOCKED lets several workers
    claim side by side.
    """
    claim = _Claim(now=now, lease=lease, limit=limit)
    for interactive in (True, False):
        if len(claim.claimed) >= limit:
            break
        query = _scan(session, interactive=interactive, channels=channels, limit=limit * SCAN_FACTOR)
        rows = [row for row in (await session.execute(query)).scalars().all() if row.id not in claim.held]
        await claim.take(session, rows, promote=interactive)
    await session.flush()
    return claim.claimed


def _scan(session: AsyncSession, *, interactive: bool, channels: Sequence[str], limit: int) -> Any:
    """The oldest pending rows of one kind, walked in id order on their partial index.

    The condition is the index's own text, not bound parameters: only then can a (generic,
    prepared) plan prove the partial index applies. SQLite's planner prefers
    ix_outbox_broadcast_id for IS NULL, i.e. every reply ever sent, so there we name the index.
    """
    index, where = PENDING_INDEXES[interactive]
    if session.bind is not None and session.bind.dialect.name == "sqlite":
        columns = ", ".join(column.name for column in TABLE.c)
        return select(OutboxMessage).from_statement(
            text(
                f"SELECT {columns} FROM outbox INDEXED BY {index} WHERE {where}"
                " AND channel IN :channels ORDER BY id LIMIT :limit"
            )
            .bindparams(bindparam("channels", list(channels), expanding=True), limit=limit)
            .columns(*TABLE.c)
        )
    query = (
        select(OutboxMessage)
        .where(text(where), col(OutboxMessage.channel).in_(channels))
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    )
    return _locking(session, query)


def _locking(session: AsyncSession, query: Any) -> Any:
    """On PostgreSQL, lock what we read and skip what another worker is claiming."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


class _Claim:
    """The state of one `claim_batch` across its passes: what we hold, claimed and must leave."""

    def __init__(self, *, now: datetime, lease: timedelta, limit: int) -> None:
        self.now, self.lease, self.limit = now, lease, limit
        self.claimed: list[OutboxMessage] = []
        self.claimed_ids: set[int] = set()
        self.held: set[int] = set()
        self.blocked: set[Chat] = set()

    async def take(self, session: AsyncSession, rows: Sequence[OutboxMessage], *, promote: bool) -> None:
        """Claim `rows` (locked by us) in id order, each only once every older pending row of its chat is claimed.

        A chat with an older pending row we do not hold is skipped: another worker is claiming
        it (SKIP LOCKED hid it), or it committed after our scan; without this, a reply committed
        after worker A's scan overtook A's rows (tests/faults/test_outbox_across_workers.py).
        With `promote`, older rows that are all broadcast rows are locked and claimed first instead.
        """
        if not rows:
            return
        self.held.update(row.id for row in rows if row.id is not None)
        pending = await _pending_ids(session, rows)
        first: dict[Chat, int] = {}
        for row in rows:
            assert row.id is not None
            first.setdefault((row.channel, row.recipient), row.id)
        if promote:
            rows = [*rows, *await self._promote(session, first, pending)]
            rows.sort(key=lambda row: row.id or 0)
        for row in rows:
            assert row.id is not None
            key = (row.channel, row.recipient)
            if key in self.blocked:
                continue
            if any(i not in self.claimed_ids for i, _ in pending.get(key, ()) if i < row.id):
                self.blocked.add(key)
                continue
            if row.next_attempt_at > self.now:
                self.blocked.add(key)
                continue
            self.claimed.append(row)
            self.claimed_ids.add(row.id)
            row.next_attempt_at = self.now + self.lease
            if len(self.claimed) >= self.limit:
                return

    async def _promote(
        self, session: AsyncSession, first: dict[Chat, int], pending: dict[Chat, list[tuple[int, bool]]]
    ) -> list[OutboxMessage]:
        """Lock the older broadcast rows of chats that have an interactive row, so the chat goes first as a whole."""
        wanted: list[int] = []
        for key, first_id in first.items():
            older = [(i, broadcast) for i, broadcast in pending.get(key, ()) if i < first_id and i not in self.claimed_ids]
            if older and all(broadcast for _, broadcast in older):
                wanted.extend(i for i, _ in older)
        if not wanted:
            return []
        query = select(OutboxMessage).where(
            col(OutboxMessage.id).in_(wanted), OutboxMessage.status == OutboxStatus.PENDING
        ).order_by(col(OutboxMessage.id))
        promoted = list((await session.execute(query)).scalars().all())
        self.held.update(row.id for row in promoted if row.id is not None)
        return promoted


async def _pending_ids(session: AsyncSession, rows: Sequence[OutboxMessage]) -> dict[Chat, list[tuple[int, bool]]]:
    """Every pending row of the chats of `rows`, locked or not: (id, is a broadcast row), in id order."""
    channels = {row.channel for row in rows}
    recipients = {row.recipient for row in rows}
    keys = {(row.channel, row.recipient) for row in rows}
    result = await session.execute(
        select(OutboxMessage.channel, OutboxMessage.recipient, OutboxMessage.id, OutboxMessage.broadcast_id)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            col(OutboxMessage.channel).in_(channels),
            col(OutboxMessage.recipient).in_(recipients),
        )
        .order_by(col(OutboxMessage.id))
    )
    pending: dict[Chat, list[tuple[int, bool]]] = {}
    for channel, recipient, row_id, broadcast_id in result.all():
        if (channel, recipient) in keys:
            pending.setdefault((channel, recipient), []).append((row_id, broadcast_id is not None))
    return pending


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
    session: AsyncSession, *, message_id: int, at: datetime, error: str, count_attempt: bool = True, waited: float = 0.0
) -> None:
    """Try the row again at `at`; `waited` (a provider's retry-after) adds to the row's `throttled_seconds`."""
    values: dict[str, object] = {"next_attempt_at": at, "last_error": error[:300]}
    if count_attempt:
        values["attempts"] = OutboxMessage.attempts + 1
    if waited:
        values["throttled_seconds"] = OutboxMessage.throttled_seconds + math.ceil(waited)
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
