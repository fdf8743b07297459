"""The outbox: replies written with the state that produced them, sent later by the dispatcher."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Executable, Integer, TextClause, bindparam, case, column, func, insert, text, update
from sqlmodel import col, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from storage.models import OutboxMessage, OutboxStatus, as_loaded, defaults_of
from storage.models.outbox import PENDING, PENDING_BROADCAST, PENDING_INTERACTIVE
from storage.plain import Plain

PER_CHAT = 10
"""Rows of one chat a claim takes at most. On Telegram a chat gets about one message a second, so
10 rows keep a batch's slowest chat well inside its lease, and one busy chat never fills the
dispatcher's room (`max_in_flight`) while others wait."""

PENDING_INDEXES = {
    True: ("ix_outbox_pending_interactive", PENDING_INTERACTIVE),
    False: ("ix_outbox_pending_broadcast", PENDING_BROADCAST),
}
"""The partial index each pass of `claim_batch` walks in id order (interactive first), and its condition."""


Chat = tuple[str, str]
"""(channel, recipient): the unit of order in the outbox."""

_WRITTEN: Final = "ascolto.outbox_chats"


def note_written(session: AsyncSession, chats: Iterable[Chat] | None) -> None:
    """This transaction wrote rows for `chats` (None: for more than it can name, a broadcast)."""
    known = session.info.setdefault(_WRITTEN, set())
    if chats is None:
        session.info[_WRITTEN] = None
    elif known is not None:
        known.update(chats)


def written(session: AsyncSession) -> frozenset[Chat] | None:
    """The chats this transaction wrote rows for, or None when it cannot say: read after the commit,
    for the dispatcher's wake (`Dispatcher.wake`), so it claims only for chats it can serve."""
    known = session.info.get(_WRITTEN, set())
    return None if known is None else frozenset(known)


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
    note_written(session, [(channel, recipient)])
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
    need_id: str | None = None,
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
        "need_id": need_id,
    }


_INSERT: Any = insert(TABLE)
"""Built once: a turn's statements are the same objects every time (issue 18)."""
_INSERT_ROWS: Final = Plain(_INSERT)


async def enqueue_many(session: AsyncSession, rows: Sequence[dict[str, object]]) -> None:
    """Insert replies built by `row` in one executemany, in order (ids ascend as the list does).

    No ORM objects: the pipeline never reads them back, and a flush of N objects cost N
    statements and N thread hand-offs on SQLite. An executemany, not one multi-row VALUES:
    SQLAlchemy compiles the latter again for every call.
    """
    if rows:
        await _flush_earlier(session)
        await _INSERT_ROWS.run_many(session, rows)
        note_written(session, {(str(row["channel"]), str(row["recipient"])) for row in rows})


async def _flush_earlier(session: AsyncSession) -> None:
    """Write what the transaction added as ORM objects before these statements: rows added earlier keep
    the lower ids, and a read sees them. Only when there is something: a flush with nothing to do
    still cost a hand-off to its greenlet."""
    if session.new or session.dirty or session.deleted:
        await session.flush()


async def pending_ids(session: AsyncSession, chat: Chat) -> list[int]:
    """The ids of `chat`'s pending rows (due or not, leased or not): whatever must leave before a new row of it."""
    await _flush_earlier(session)  # rows of this chat added as ORM objects earlier in the transaction count too
    channel, recipient = chat
    rows = await _pending_ids_query(_dialect(session)).rows(session, {"channel": channel, "recipient": recipient})
    return [int(row_id) for row_id, in rows]


@functools.cache
def _pending_ids_query(dialect: str) -> Plain:
    """`pending_ids`'s statement, built once a dialect, on the partial index of pending rows by chat."""
    hint = " INDEXED BY ix_outbox_pending_chat" if dialect == "sqlite" else ""
    return Plain(text(f"SELECT id FROM outbox{hint} WHERE {PENDING} AND channel = :channel AND recipient = :recipient"))


_INSERT_ONE: Final = Plain(insert(TABLE).returning(TABLE.c.id))
"""Built once, as `_INSERT`: a row and the id it was given, for a reply handed to the dispatcher by the turn."""


async def enqueue_leased(session: AsyncSession, rows: Sequence[dict[str, object]], *, until: datetime) -> list[int]:
    """Insert replies built by `row` already leased until `until`, in order, and return their ids.

    For rows a live dispatcher in this process takes straight from the turn that wrote them
    (`bot.inflight.Handoff`): no claim will take them before `until`, as if claimed in this very
    transaction. One statement a row, for its id (RETURNING); a turn writes one or two. The chat
    is not noted as written (`written`): nobody needs waking for it.
    """
    await _flush_earlier(session)
    ids: list[int] = []
    for values in rows:
        [(row_id,)] = await _INSERT_ONE.rows(session, {**values, "next_attempt_at": until})
        ids.append(int(row_id))
    return ids


_DEFAULTS: Final = defaults_of(OutboxMessage)


def as_claimed(values: Mapping[str, object]) -> OutboxMessage:
    """The row a claim would read back after `values` (a written row's columns, its id included) were committed.

    Built as the loader builds a row it reads (`models.as_loaded`), at a fraction of the constructor's
    cost. Columns not in `values` take the model's defaults, as the INSERT gave them. Only for
    reading: it is in no session.
    """
    return as_loaded(OutboxMessage, _DEFAULTS() | dict(values))


async def claim_batch(
    session: AsyncSession,
    *,
    channels: Sequence[str],
    now: datetime,
    limit: int,
    lease: timedelta,
    per_chat: int = PER_CHAT,
    recipient: str | None = None,
) -> list[OutboxMessage]:
    """Claim due rows fairly: the oldest row of every chat that has one due, interactive chats first.

    Two passes so that a citizen never waits behind an announcement: first the chats with a row
    that has no `broadcast_id` (replies, notifications to staff), in the order their oldest such
    row was written, then, if the batch has room, the chats with only broadcast rows. A chat is
    served from its oldest pending row, so within a chat rows go out in id order (a reply never
    overtakes the announcement sent before it: that announcement is promoted with it).

    Fair whatever one chat's backlog: a batch takes each chosen chat's oldest row first, then
    each one's second row, and so on (round robin), and at most `per_chat` rows of one chat. A
    chat's rows behind its oldest are never candidates, so 1,000 rows of one chat cost the scan
    one index probe each and hide nobody (issue 13: a reply used to wait 213 s behind them).

    A claimed row's `next_attempt_at` moves to the end of its lease: if this worker dies while
    sending, the row becomes due again (at-least-once on a crash, exactly-once otherwise). A chat
    whose oldest pending row is not due (claimed elsewhere, or backing off) gets nothing newer
    claimed, so replies never overtake each other; a row written for later (`is_scheduled`) is
    not in that order until its time, so it never holds what was written after it. On PostgreSQL, SKIP LOCKED lets several
    workers claim side by side.

    With `recipient`, only that person's rows are claimed: a console session is one identity
    (`ascolto chat --as NAME`), and everyone else's messages wait for their own session.
    """
    claim = _Claim(now=now, lease=lease, limit=limit)
    for interactive in (True, False):
        room = limit - len(claim.claimed)
        if room <= 0:
            break
        # A chat seen in the first pass can come back as a broadcast head: ask for that many more.
        chats = await _chats(
            session, interactive=interactive, channels=channels, now=now, limit=room + len(claim.seen), recipient=recipient
        )
        chats = [chat for chat in chats if chat not in claim.seen][:room]
        if chats:
            claim.take(chats, await _first_rows(session, chats, per_chat=per_chat))
    if claim.claimed:
        # One UPDATE built once, not the ORM's flush of each row (issue 18); the rows then hold it as written.
        until = now + lease
        await session.execute(_LEASE, {"ids": [row.id for row in claim.claimed], "until": until})
        for row in claim.claimed:
            set_committed_value(row, "next_attempt_at", until)
    return claim.claimed


_LEASE: Final = (
    update(TABLE)
    .where(TABLE.c.id.in_(bindparam("ids", expanding=True)))
    .values(next_attempt_at=bindparam("until", type_=TABLE.c.next_attempt_at.type))
)
"""A claim's lease: the claimed rows are due again at its end, if this worker dies while sending."""


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else ""


async def _chats(
    session: AsyncSession, *, interactive: bool, channels: Sequence[str], now: datetime, limit: int, recipient: str | None = None
) -> list[Chat]:
    """The chats to serve, oldest first: those whose oldest pending row of this kind is due and is the chat's turn.

    Walks the kind's partial index in id order and keeps a row only if no older pending row of its
    chat (of this kind, for interactive rows: older broadcast rows are promoted with them) exists:
    one probe of `ix_outbox_pending_chat` per row. The conditions are the indexes' own text, not
    bound parameters: only then can a (generic, prepared) plan prove a partial index applies; on
    SQLite the query names its indexes, because its planner prefers ix_outbox_broadcast_id for
    IS NULL, i.e. every reply ever sent. On PostgreSQL the chosen rows are locked, SKIP LOCKED:
    another worker claiming the same chat now makes us skip it. An older row written for later
    (`created_at` after now: a scheduled send) is not in the chat's queue yet, so it holds nothing.
    """
    query = _chats_query(interactive, _dialect(session), recipient is not None)
    params: dict[str, object] = {"channels": list(channels), "now": now, "limit": limit}
    if recipient is not None:
        params["recipient"] = recipient
    return [(channel, recipient) for channel, recipient in (await session.execute(query, params)).all()]


@functools.cache
def _chats_query(interactive: bool, dialect: str, one_recipient: bool) -> TextClause:
    """`_chats`'s statement, built once a kind and dialect: SQLAlchemy then reuses its compiled form."""
    index, where = PENDING_INDEXES[interactive]
    hint = f" INDEXED BY {index}" if dialect == "sqlite" else ""
    probe = " INDEXED BY ix_outbox_pending_chat" if dialect == "sqlite" else ""
    same_kind = " AND p.broadcast_id IS NULL" if interactive else ""
    lock = " FOR UPDATE OF o SKIP LOCKED" if dialect == "postgresql" else ""
    o_where = " AND ".join(f"o.{term}" for term in where.split(" AND "))
    only = " AND o.recipient = :recipient" if one_recipient else ""
    return text(
        f"SELECT o.channel, o.recipient FROM outbox AS o{hint}"
        f" WHERE {o_where} AND o.channel IN :channels AND o.next_attempt_at <= :now{only}"
        f" AND NOT EXISTS (SELECT 1 FROM outbox AS p{probe} WHERE p.{PENDING}"
        f" AND p.channel = o.channel AND p.recipient = o.recipient AND p.id < o.id{same_kind}"
        f" AND p.created_at <= :now)"
        f" ORDER BY o.id LIMIT :limit{lock}"
    ).bindparams(
        bindparam("channels", expanding=True),
        bindparam("now", type_=TABLE.c.next_attempt_at.type),
        bindparam("limit"),
    )


async def _first_rows(session: AsyncSession, chats: Sequence[Chat], *, per_chat: int) -> list[tuple[int, OutboxMessage]]:
    """The first `per_chat` pending rows of each chat, with their rank in the chat (1 = its oldest).

    Read after `_chats` locked what it chose, so a row committed meanwhile is seen. On PostgreSQL
    the rows are locked, SKIP LOCKED: a rank missing from the answer is a row another worker holds,
    and the chat is served only up to it. Rows of other chats that share a channel or a recipient
    with a chosen one (the IN lists' cross product) are dropped by the caller.
    """
    params = {
        "channels": sorted({channel for channel, _ in chats}),
        "recipients": sorted({recipient for _, recipient in chats}),
        "per_chat": per_chat,
    }
    return [(int(rank), row) for row, rank in (await session.execute(_first_rows_query(_dialect(session)), params)).all()]


@functools.cache
def _first_rows_query(dialect: str) -> Executable:
    """`_first_rows`'s statement, built once a dialect."""
    hint = " INDEXED BY ix_outbox_pending_chat" if dialect == "sqlite" else ""
    lock = " FOR UPDATE OF o SKIP LOCKED" if dialect == "postgresql" else ""
    columns = ", ".join(f"o.{column.name}" for column in TABLE.c)
    query = (
        text(
            f"SELECT {columns}, w.rank FROM outbox AS o JOIN ("
            f"SELECT id, row_number() OVER (PARTITION BY channel, recipient ORDER BY id) AS rank"
            f" FROM outbox{hint} WHERE {PENDING} AND channel IN :channels AND recipient IN :recipients"
            f") AS w ON w.id = o.id WHERE w.rank <= :per_chat AND o.{PENDING}"
            # Repeated on `o`: PostgreSQL cannot estimate the rank filter, and without these it
            # joined by hashing every pending row.
            f" AND o.channel IN :channels AND o.recipient IN :recipients ORDER BY o.id{lock}"
        )
        .bindparams(
            bindparam("channels", expanding=True),
            bindparam("recipients", expanding=True),
            bindparam("per_chat"),
        )
        .columns(*TABLE.c, column("rank", Integer))
    )
    return select(OutboxMessage, column("rank", Integer)).from_statement(query).execution_options(populate_existing=True)


def is_scheduled(row: OutboxMessage, now: datetime) -> bool:
    """Written for a later time (``created_at`` after `now`), so not yet part of its chat's order.

    Nothing in flight or backing off looks like this: a claim and a retry move `next_attempt_at`,
    never `created_at`, and rows are stamped with the database's time, a little behind it.
    """
    return row.created_at > now


class _Claim:
    """The state of one `claim_batch` across its passes: the chats it has looked at and what it claimed."""

    def __init__(self, *, now: datetime, lease: timedelta, limit: int) -> None:
        self.now, self.lease, self.limit = now, lease, limit
        self.claimed: list[OutboxMessage] = []
        self.seen: set[Chat] = set()

    def take(self, chats: Sequence[Chat], ranked: Sequence[tuple[int, OutboxMessage]]) -> None:
        """Claim each chat's rows from its oldest on, round robin across `chats`, up to the batch's room.

        A chat is served only while its rows come without a gap (rank 1, 2, …) and are due: a rank
        we do not hold is a row another worker is claiming (SKIP LOCKED hid it), and a row not due
        is in flight or backing off; what follows it waits. A row written for later (`is_scheduled`)
        is stepped over: it takes its place in the chat when its time comes, not before (issue 15).
        """
        turn = {chat: n for n, chat in enumerate(chats)}
        self.seen.update(chats)
        by_chat: dict[Chat, list[tuple[int, OutboxMessage]]] = {}
        for rank, row in sorted(ranked, key=lambda item: item[0]):
            key = (row.channel, row.recipient)
            if key in turn:
                by_chat.setdefault(key, []).append((rank, row))
        queue: list[tuple[int, int, OutboxMessage]] = []
        for key, rows in by_chat.items():
            for expected, (rank, row) in enumerate(rows, start=1):
                if rank != expected:
                    break
                if is_scheduled(row, self.now):
                    continue
                if row.next_attempt_at > self.now:
                    break
                queue.append((rank, turn[key], row))
        queue.sort(key=lambda item: item[:2])
        self.claimed += [row for _, _, row in queue[: self.limit - len(self.claimed)]]


_MARK_SENT: Final = (
    update(TABLE)
    .where(TABLE.c.id == bindparam("row_id"))
    .values(
        # A delivery callback can land before this commit (WhatsApp): never move it backwards.
        status=case((TABLE.c.status == OutboxStatus.PENDING, OutboxStatus.SENT), else_=TABLE.c.status),
        provider_message_id=bindparam("provider_id", type_=TABLE.c.provider_message_id.type),
        sent_at=bindparam("sent_at", type_=TABLE.c.sent_at.type),
        last_error=None,
    )
)
"""Built once: the dispatcher marks every message it sends, and building the statement cost more than running it."""
_MARK_SENT_ROWS: Final = Plain(_MARK_SENT)


async def mark_sent(session: AsyncSession, *, message_id: int, provider_message_id: str | None, now: datetime) -> None:
    await mark_many_sent(session, sent=[(message_id, provider_message_id)], now=now)


async def mark_many_sent(session: AsyncSession, *, sent: Sequence[tuple[int, str | None]], now: datetime) -> None:
    """`mark_sent` for each (outbox id, provider id) of `sent`, as one executemany.

    In id order, as `delivery.advance_many` updates rows: on PostgreSQL a batch of marks and a
    batch of status callbacks that share rows lock them in the same order (no deadlock).
    """
    if sent:
        await _MARK_SENT_ROWS.run_many(session, [{"row_id": m, "provider_id": p, "sent_at": now} for m, p in sorted(sent, key=lambda s: s[0])])


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
