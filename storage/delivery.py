"""Delivery on outbox rows: provider callbacks (never backwards), held rows, contact windows, attachments by URL."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Final

from sqlalchemy import bindparam, case, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from storage import outbox
from storage.models import Citizen, OutboxMessage, OutboxStatus
from storage.plain import Plain

STATUS_RANK: Final = MappingProxyType(
    {
        OutboxStatus.PENDING: 0,
        OutboxStatus.SENT: 1,
        OutboxStatus.DELIVERED: 2,
        OutboxStatus.READ: 3,
        OutboxStatus.FAILED: 4,
        OutboxStatus.HELD: 4,
    }
)
"""Status callbacks arrive in any order, so a row only moves up this ladder: delivered stays delivered."""


@dataclass(frozen=True, slots=True)
class Contact:
    """What the dispatcher needs to know about a recipient before sending."""

    last_inbound_at: datetime | None
    opted_out_at: datetime | None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """What a status callback did: `row` is None when no row matched, `changed` False when it was stale."""

    row: OutboxMessage | None
    changed: bool = False
    previous_error_code: str | None = None


_CONTACTS: Final = select(Citizen.id, Citizen.last_inbound_at, Citizen.opted_out_at).where(
    col(Citizen.id).in_(bindparam("ids", expanding=True))
)
"""Built once: the dispatcher asks on every claim, and building a statement cost more than running it."""


async def contacts(session: AsyncSession, *, citizen_ids: Collection[int]) -> dict[int, Contact]:
    if not citizen_ids:
        return {}
    result = await session.execute(_CONTACTS, {"ids": list(citizen_ids)})
    return {int(cid): Contact(last, out) for cid, last, out in result.all() if cid is not None}


async def attachment(session: AsyncSession, *, outbox_id: int) -> tuple[str, str | None] | None:
    """The local file (path, MIME type) an outbox row carries, for the provider fetching it by URL."""
    row = await session.get(OutboxMessage, outbox_id)
    if row is None or row.attachment_path is None:
        return None
    return row.attachment_path, row.attachment_type


_TABLE: Final = OutboxMessage.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation
_RANK_OF_ROW: Final = case({status.value: rank for status, rank in STATUS_RANK.items()}, value=_TABLE.c.status, else_=0)
_ADVANCE: Final = update(_TABLE).values(status=bindparam("new_status"), provider_message_id=bindparam("sid"))
_ADVANCE_BY_ID: Final = _ADVANCE.where(
    _TABLE.c.id == bindparam("outbox_id"),
    or_(_TABLE.c.provider_message_id.is_(None), _TABLE.c.provider_message_id == bindparam("sid")),
    _RANK_OF_ROW < bindparam("rank"),
)
_ADVANCE_BY_SID: Final = _ADVANCE.where(_TABLE.c.provider_message_id == bindparam("sid"), _RANK_OF_ROW < bindparam("rank"))
_ADVANCES: Final = (Plain(_ADVANCE_BY_ID), Plain(_ADVANCE_BY_SID))
"""`advance_many`'s two statements (by outbox id, by the provider's id): on the plain lane in a hot transaction."""


def is_plain_progress(status: str, error_code: str | None) -> bool:
    """A report that only moves a row up the ladder (sent, delivered, read): `advance_status` applies it."""
    return error_code is None and status in (OutboxStatus.SENT, OutboxStatus.DELIVERED, OutboxStatus.READ)


async def advance_status(session: AsyncSession, *, provider_message_id: str, status: str, outbox_id: int | None = None) -> bool:
    """`record_status` for a plain progress report, as one guarded UPDATE; True when the row moved.

    The same rules as `record_status` (found by `outbox_id`, else by the provider's id; a report
    about another attempt of the row is ignored; only forwards), in the statement's WHERE: no
    read, no lock held between a read and a write, and a report that changes nothing writes
    nothing. Two callbacks racing cannot move a row backwards: each one's condition is checked
    against the row as it is when its UPDATE runs (SQLite has one writer; PostgreSQL re-checks
    the WHERE of an UPDATE that waited for another's lock).
    """
    if not is_plain_progress(status, None):
        raise ValueError(f"not a plain progress status: {status!r}")
    params = {"new_status": status, "sid": provider_message_id, "rank": STATUS_RANK[OutboxStatus(status)]}
    if outbox_id is not None:
        result = await session.execute(_ADVANCE_BY_ID, params | {"outbox_id": outbox_id})
    else:
        result = await session.execute(_ADVANCE_BY_SID, params)
    return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True, slots=True)
class Progress:
    """A plain progress report (sent, delivered, read) for `advance_many`."""

    provider_message_id: str
    status: str
    outbox_id: int | None = None

    @property
    def rank(self) -> int:
        return STATUS_RANK[OutboxStatus(self.status)]

    def params(self) -> dict[str, object]:
        return {"new_status": self.status, "sid": self.provider_message_id, "rank": self.rank, "outbox_id": self.outbox_id}


async def advance_many(session: AsyncSession, reports: Sequence[Progress]) -> int:
    """`advance_status` for each of `reports`, in one executemany for those with an outbox id and one for the rest.

    The reports with an outbox id (all of ours carry one) go in the order of that id (then
    rank), as `outbox.mark_many_sent` does, so two transactions that advance the same rows
    lock them in the same order (PostgreSQL: no deadlock between two workers' batches); those
    found by the provider's id alone come after. Two reports about one row both apply, each under its guard, so the
    row ends at the higher one. Returns how many row updates took (-1 when the driver does not
    say, as asyncpg's executemany).
    """
    if any(not is_plain_progress(r.status, None) for r in reports):
        raise ValueError(f"not plain progress reports: {[r.status for r in reports]!r}")
    by_id = sorted((r for r in reports if r.outbox_id is not None), key=lambda r: (r.outbox_id or 0, r.rank))
    by_sid = sorted((r for r in reports if r.outbox_id is None), key=lambda r: (r.provider_message_id, r.rank))
    moved = 0
    for statement, group in zip(_ADVANCES, (by_id, by_sid), strict=True):
        if group:
            count = await statement.run_many(session, [r.params() for r in group])
            moved = -1 if count < 0 or moved < 0 else moved + count
    return moved


async def record_status(
    session: AsyncSession,
    *,
    provider_message_id: str,
    status: str,
    error_code: str | None,
    outbox_id: int | None = None,
) -> StatusUpdate:
    """Apply a provider's status report to its outbox row, only ever forwards.

    The row is found by `outbox_id` when the callback URL carries it (so a
    callback that beats our own "sent" commit still lands), else by the
    provider's message id. A report about an earlier attempt of the row (another
    provider id) is ignored.
    """
    query = select(OutboxMessage)
    if outbox_id is not None:
        query = query.where(col(OutboxMessage.id) == outbox_id)
    else:
        query = query.where(col(OutboxMessage.provider_message_id) == provider_message_id)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await session.execute(query)).scalars().first()
    if row is None:
        return StatusUpdate(row=None)
    if row.provider_message_id not in (None, provider_message_id):
        return StatusUpdate(row=row)
    if STATUS_RANK.get(OutboxStatus(status), 0) <= STATUS_RANK.get(OutboxStatus(row.status), 0):
        return StatusUpdate(row=row)
    previous = row.error_code
    row.status = status
    row.provider_message_id = provider_message_id
    if error_code is not None:
        row.error_code = error_code[:16]
        row.last_error = f"provider error {error_code}"[:300]
    await session.flush()
    return StatusUpdate(row=row, changed=True, previous_error_code=previous)


async def hold(session: AsyncSession, *, message_id: int, reason: str, error_code: str | None = None) -> None:
    """Keep a row that may not be sent now; admins see it (``/healthz`` counts `held`)."""
    values: dict[str, object] = {"status": OutboxStatus.HELD, "last_error": reason[:300]}
    if error_code is not None:
        values["error_code"] = error_code[:16]
    await session.execute(update(OutboxMessage).where(col(OutboxMessage.id) == message_id).values(**values))


async def resend(session: AsyncSession, *, row: OutboxMessage, error_code: str, now: datetime) -> OutboxMessage:
    """A new pending copy of `row` carrying the provider's error, so its sender can send it another way."""
    copy = OutboxMessage(
        channel=row.channel,
        recipient=row.recipient,
        citizen_id=row.citizen_id,
        text=row.text,
        options=list(row.options),
        number_hint=row.number_hint,
        conversation_version=row.conversation_version,
        error_code=error_code[:16],
        next_attempt_at=now,
        created_at=row.created_at,
    )
    session.add(copy)
    await session.flush()
    outbox.note_written(session, [(copy.channel, copy.recipient)])
    return copy
